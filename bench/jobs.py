"""A city-sized import as a job, end to end (issue 19): gunicorn, PostgreSQL, Redis and a real worker.

Run from the repo root:  .venv/bin/python bench/jobs.py [--rows 20000 100000] [--pg-url ...]
                         [--redis-url redis://127.0.0.1:6379/14] [--report-only]

For each size: a fresh PostgreSQL schema (`flask db upgrade`), an .xlsx of that many valid institutions
(bench/import.py's generator), gunicorn (`-w 2`, the default 30 s worker timeout) and `flask --app wsgi
worker` on a Redis queue of this run's own name. An admin's token; POST /api/v1/institutions/import
with the file over HTTP; the 202's time; then GET /api/v1/jobs/{id} every 0.5 s until done, sampling
the worker process's RSS (VmRSS) and progress; at the end its VmHWM (peak RSS since it started).
Every row must be created with its code.

Targets: 20,000 rows < 30 s end to end; 100,000 rows < 150 s and the worker under 300 MB. Exit 1 when
one is missed (unless --report-only).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import harness  # first: fixes sys.path (bench/complaints.py would hide the `complaints` package)

TARGET_SECONDS = {20_000: 30.0, 100_000: 150.0}
WORKER_RSS_MB = 300.0
PASSWORD = "a-long-bench-password"


def parse_args():
    parser = harness.parser(__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--pg-url", default=harness.PG_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (default 2)")
    harness.add_report_only(parser)
    return parser.parse_args()


def _generator():
    spec = importlib.util.spec_from_file_location("bench_import", harness.HERE / "import.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_xlsx


def _status(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _call(url: str, *, data: bytes | None = None, headers: dict | None = None, method: str | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def run_one(args, rows: int, tmp: str, write_xlsx) -> dict:
    database = harness.Database("postgresql", tmp, args.pg_url)
    name = f"onecode-bench-{uuid.uuid4().hex[:8]}"
    env = harness.server_env(database.url, tmp, "https://code.example.org", ONECODE_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
                             ONECODE_TASK_QUEUE_URL=args.redis_url, ONECODE_TASK_QUEUE_NAME=name,
                             ONECODE_PASSWORD=PASSWORD)
    port = harness.free_port()
    log_path = Path(tmp) / f"gunicorn-{rows}.log"
    worker_log = Path(tmp) / f"worker-{rows}.log"
    server = worker = None
    try:
        harness.migrate(env, timeout=300)
        subprocess.run([harness.VENV_BIN / "flask", "--app", "wsgi", "create-account", "bench", "--role", "admin"],
                       cwd=harness.ROOT, env=env, check=True, capture_output=True)
        path = Path(tmp) / f"directory-{rows}.xlsx"
        write_xlsx(path, rows)
        server = harness.gunicorn(["-w", str(args.web_workers), "-b", f"127.0.0.1:{port}", "wsgi:app"], env, log_path)
        with open(worker_log, "wb") as log:
            worker = subprocess.Popen([harness.VENV_BIN / "flask", "--app", "wsgi", "worker", "-w", "2"], cwd=harness.ROOT,
                                      env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        harness.wait_ready(port, server)
        base = f"http://127.0.0.1:{port}"
        _, login = _call(f"{base}/api/v1/auth/login", data=json.dumps({"username": "bench", "password": PASSWORD}).encode(),
                         headers={"Content-Type": "application/json"})
        auth = {"Authorization": f"Bearer {login['access_token']}"}
        time.sleep(1.0)  # the worker is up and polling
        rss_start = _status(worker.pid, "VmRSS")
        boundary = "bench-boundary-19"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="directory.xlsx"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        load_before = os.getloadavg()
        worker_cpu, busy = harness.cpu_of(worker.pid) or 0.0, harness.machine_busy()
        started = time.perf_counter()
        status, accepted = _call(f"{base}/api/v1/institutions/import", data=body,
                                 headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        accepted_after = time.perf_counter() - started
        if status != 202:
            raise RuntimeError(f"import answered {status}: {accepted}")
        samples, peak_rss = [], 0.0
        while True:
            _, job = _call(accepted["status_url"].replace("http://localhost", base), headers=auth)
            elapsed = time.perf_counter() - started
            rss = _status(worker.pid, "VmRSS")
            peak_rss = max(peak_rss, rss)
            samples.append((round(elapsed, 1), job["status"], job["progress"]["done"], job["progress"]["total"], round(rss)))
            if job["status"] in ("done", "failed") or elapsed > 900:
                break
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        hwm = _status(worker.pid, "VmHWM")
        worker_cpu = (harness.cpu_of(worker.pid) or 0.0) - worker_cpu
        busy = harness.machine_busy() - busy
        return {"rows": rows, "file_mb": path.stat().st_size / 1e6, "accepted_seconds": accepted_after, "seconds": seconds,
                "status": job["status"], "result": {k: v for k, v in (job.get("result") or {}).items() if k != "rejected"},
                "rejected": len((job.get("result") or {}).get("rejected", [])), "error": job.get("error"),
                "worker_rss_start_mb": rss_start, "worker_rss_peak_sampled_mb": peak_rss, "worker_vmhwm_mb": hwm,
                "progress_samples": samples[:: max(1, len(samples) // 12)] + samples[-1:],
                "worker_cpu_seconds": worker_cpu, "machine_busy_cpu_seconds": busy,
                "load_before": load_before, "load_after": os.getloadavg()}
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(2)  # SIGINT: the consumer's graceful stop
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        if server is not None:
            harness.stop(server)
        database.drop()


def main() -> int:
    args = parse_args()
    harness.exit_on_sigterm()
    print(f"{harness.machine()}, reference loop {harness.reference_loop():.0f} ms, load average {os.getloadavg()}")
    write_xlsx = _generator()
    failures = []
    with tempfile.TemporaryDirectory(prefix="onecode-bench-jobs-") as tmp:
        for rows in args.rows:
            result = run_one(args, rows, tmp, write_xlsx)
            target = TARGET_SECONDS.get(rows)
            ok = (result["status"] == "done" and result["result"].get("created") == rows and result["rejected"] == 0)
            passed = ok and (target is None or result["seconds"] < target) and result["worker_vmhwm_mb"] < WORKER_RSS_MB
            print(json.dumps(result, ensure_ascii=False))
            print(f"{rows} rows ({result['file_mb']:.1f} MB .xlsx): 202 after {result['accepted_seconds']:.2f} s, "
                  f"{result['status']} after {result['seconds']:.1f} s ({rows / result['seconds']:.0f} rows/s); worker RSS "
                  f"{result['worker_rss_start_mb']:.0f} MB idle, peak {result['worker_vmhwm_mb']:.0f} MB; worker CPU "
                  f"{result['worker_cpu_seconds']:.1f} s, machine busy {result['machine_busy_cpu_seconds']:.0f} CPU-s of "
                  f"{2 * result['seconds']:.0f}, load {result['load_before'][0]:.1f}: "
                  f"{'PASS' if passed else 'FAIL'} (targets < {target} s, < {WORKER_RSS_MB:.0f} MB)")
            if not passed:
                failures.append(str(rows))
    print("all targets met" if not failures else f"missed: {', '.join(failures)}")
    return 0 if not failures or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
