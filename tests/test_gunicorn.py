"""The production server's configuration (gunicorn.conf.py): what it computes, and gunicorn run with it."""

from __future__ import annotations

import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).parent / "gunicorn"
SECRET_CODE = "K7QX9MZ2"  # a query code, as a complainant's tracking link carries it


def load_config(monkeypatch, **environ) -> dict:
    """gunicorn.conf.py run as gunicorn runs it (plain Python), with these variables set."""
    for name in ("ONECODE_WORKERS", "WEB_CONCURRENCY", "ONECODE_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_it_runs_two_workers_per_cpu_plus_one_by_default(monkeypatch):
    config = load_config(monkeypatch)
    assert config["workers"] == 2 * config["cpu_count"]() + 1
    assert config["worker_class"] == "sync"
    assert config["bind"] == ["0.0.0.0:8000"]


def test_it_takes_the_worker_count_and_address_from_the_environment(monkeypatch):
    assert load_config(monkeypatch, WEB_CONCURRENCY="3")["workers"] == 3
    assert load_config(monkeypatch, ONECODE_WORKERS="7", WEB_CONCURRENCY="3")["workers"] == 7
    assert load_config(monkeypatch, ONECODE_BIND="127.0.0.1:9000, unix:/run/onecode.sock")["bind"] == [
        "127.0.0.1:9000", "unix:/run/onecode.sock"]


@pytest.mark.parametrize("value", ["0", "-2", "four"])
def test_it_refuses_a_worker_count_that_is_not_a_positive_number(monkeypatch, value):
    with pytest.raises(ValueError):
        load_config(monkeypatch, ONECODE_WORKERS=value)


def test_it_times_out_stuck_requests_shuts_down_gracefully_and_recycles_workers(monkeypatch):
    config = load_config(monkeypatch)
    assert config["timeout"] == 30  # long work is the task queue's
    assert config["graceful_timeout"] == 30
    assert config["keepalive"] == 5
    assert config["max_requests"] >= 1000 and 0 < config["max_requests_jitter"] <= config["max_requests"]
    assert config["preload_app"] is True and callable(config["post_fork"])


def test_its_access_log_has_the_duration_and_no_query_string_address_or_referer(monkeypatch):
    config = load_config(monkeypatch)
    log_format = config["access_log_format"]
    assert config["accesslog"] == "-"
    assert "%(D)s" in log_format  # microseconds
    assert "%(U)s" in log_format  # the path alone
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%(h)s", "%({x-forwarded-for}i)s"):
        assert atom not in log_format


def test_its_variables_are_not_taken_for_app_settings(monkeypatch):
    from onecode import create_app

    monkeypatch.setenv("ONECODE_WORKERS", "3")
    monkeypatch.setenv("ONECODE_BIND", "127.0.0.1:9000")
    create_app({"DATABASE_URL": "sqlite://"})  # an unknown ONECODE_ variable would stop it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        return b"".join(iter(lambda: sock.recv(65536), b""))


def _wait_for_health(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            if _get(port, "/healthz").startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer /healthz:\n" + log.read_text())


def test_gunicorn_serves_with_it_logs_without_secrets_and_finishes_a_request_on_sigterm(database, tmp_path):
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ONECODE_", "GUNICORN_", "WEB_CONC"))},
           "ONECODE_DATABASE_URL": database["url"](tmp_path), "ONECODE_UPLOAD_DIR": str(tmp_path / "uploads"),
           "ONECODE_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "ONECODE_RATELIMIT_ENABLED": "false",
           "ONECODE_BIND": f"127.0.0.1:{port}", "ONECODE_WORKERS": "1"}
    with open(log, "wb") as out:
        server = subprocess.Popen([GUNICORN, "-c", str(CONFIG), "wsgi:app"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_health(port, server, log)
        tracked = _get(port, f"/api/v1/complaints/track?tracking_no=TS20260101000001&query_code={SECRET_CODE}")
        assert tracked.startswith(b"HTTP/1.1 404")

        # A request half sent when SIGTERM comes is still answered, then everything exits cleanly.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            time.sleep(0.5)  # the worker has taken the connection and is reading the request
            server.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            sock.sendall(b"Connection: close\r\n\r\n")
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        database["clean"]()

    output = log.read_text()
    assert re.search(r'<\d+> "GET /healthz HTTP/1.1" 200 \d+ \d+us -$', output, re.MULTILINE), output
    assert re.search(r'"GET /api/v1/complaints/track HTTP/1.1" 404 \d+ \d+us -$', output, re.MULTILINE), output
    assert SECRET_CODE not in output and "query_code" not in output
    assert "Handling signal: term" in output and "Shutting down: Master" in output
