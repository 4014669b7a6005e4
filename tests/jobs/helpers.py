"""Shared pieces of the job tests: starting a job over HTTP and reading it back."""

from __future__ import annotations

import time

ASYNC = {"Prefer": "respond-async"}


def started(response) -> int:
    """The job id of a 202 answer, after checking its shape."""
    assert response.status_code == 202, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert set(body) == {"job_id", "status_url"}
    assert body["status_url"].endswith(f"/api/v1/jobs/{body['job_id']}")
    assert response.headers["Location"] == body["status_url"]
    return body["job_id"]


def job(persona, job_id: int) -> dict:
    response = persona.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def finished(persona, job_id: int, timeout: float = 60.0) -> dict:
    """Poll the job until it is done or failed (a real consumer runs it elsewhere)."""
    deadline = time.monotonic() + timeout
    while True:
        body = job(persona, job_id)
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"job {job_id} still {body['status']} after {timeout} s"
        time.sleep(0.1)
