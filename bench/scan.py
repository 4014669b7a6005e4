"""Throughput of the public scan against /healthz on the same gunicorn server (DESIGN.md: the hot path).

Run from the repo root:  .venv/bin/python bench/scan.py [--rounds 5] [--seconds 5] [--concurrency 4]

It builds a throwaway SQLite database (migrations, then one institution with 50 staff through the
service layer), serves it with `gunicorn -w 2 wsgi:app` on 127.0.0.1, and alternates fixed-length rounds
of /healthz and /api/v1/scan/{token}. /healthz (routing plus `SELECT 1`) is the yardstick: the scan must
reach TARGET of its throughput with no errors. Exit status 1 if it does not (unless --report-only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent  # flask and gunicorn from the same environment as this Python
WORKERS = 2
STAFF = 50
TARGET = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="round pairs (healthz, scan) to run (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each round in seconds (default 5)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-scan-cache", action="store_true",
                        help="set ONECODE_SCAN_CACHE_SECONDS=0: every scan reads the database")
    parser.add_argument("--report-only", action="store_true", help="exit 0 even if the target is missed")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(env: dict) -> str:
    """One institution with STAFF staff, through the service layer; returns its active code token."""
    os.environ.update(env)  # create_app reads ONECODE_* from the environment, as the workers will
    from stdnum.cn import ric, uscc

    from api.database import db
    from onecode import create_app
    from registry import service as registry

    today = dt.date.today()
    body = "91370112MA3C00001"
    app = create_app()
    with app.app_context():
        institution = registry.create_institution(session=db.session, data={
            "name": "压测市人民医院", "uscc": body + uscc.calc_check_digit(body), "licence_no": "PDY00001-137011217A1001",
            "category": "hospital", "scope": ["内科", "外科", "儿科", "妇产科"], "address": "压测市历城区山大路 1 号",
            "street": "山大路街道", "legal_representative": "王某", "principal": "王某",
            "licence_valid_from": today - dt.timedelta(days=365), "licence_valid_to": today + dt.timedelta(days=1000),
            "phone": "0531-88000000", "remote_monitoring": False})
        roles = ("physician", "nurse", "pharmacist", "technician")
        for n in range(1, STAFF + 1):
            id_body = f"37010219900101{n:03d}"
            registry.create_staff(session=db.session, institution=institution, data={
                "name": f"医生{n}", "role": roles[n % len(roles)], "id_number": id_body + ric.calc_check_digit(id_body + "0"),
                "title": "主治医师", "qualification_no": f"Q{n:06d}", "practice_cert_no": f"P{n:09d}",
                "practice_category": "临床", "practice_scope": "内科专业"})
        db.session.commit()
        token = institution.code.token
        db.engine.dispose()
    return token


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(port: int, server: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            if get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"/healthz did not answer 200 within {timeout:.0f} s")


def hammer(port: int, path: str, seconds: float, concurrency: int) -> tuple[float, int, int]:
    """GET `path` from `concurrency` threads for `seconds`; returns (200s per second, 200s, errors).

    Raw sockets and a prebuilt request keep the client cheap: it shares the 2 cores with the server.
    Gunicorn's sync workers close the connection after each answer, so each request has its own.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    counts = []  # (ok, errors) per thread; list.append is atomic
    deadline = time.monotonic() + seconds

    def client():
        ok = errors = 0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(request)
                    head = sock.recv(65536)
                    while sock.recv(65536):  # read to the end so the whole answer counts
                        pass
                if head.startswith(b"HTTP/1.1 200 ") or head.startswith(b"HTTP/1.0 200 "):
                    ok += 1
                else:
                    errors += 1
            except OSError:
                errors += 1
        counts.append((ok, errors))

    started = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 10)  # bounded: socket timeouts end a stuck request within 5 s
    elapsed = time.monotonic() - started
    ok, errors = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return ok / elapsed, ok, errors


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()  # gunicorn: graceful shutdown of its workers
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # its own process group (start_new_session)
            server.wait(5)


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the `finally` below on kill too
    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="onecode-bench-") as tmp:
        env = {"ONECODE_DATABASE_URL": f"sqlite:///{tmp}/onecode.db", "ONECODE_RATELIMIT_ENABLED": "false",
               "ONECODE_UPLOAD_DIR": f"{tmp}/uploads", "ONECODE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
        if args.no_scan_cache:
            env["ONECODE_SCAN_CACHE_SECONDS"] = "0"
        env = {**os.environ, **env}
        subprocess.run([VENV_BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)
        token = seed(env)
        log = open(f"{tmp}/gunicorn.log", "wb")
        server = subprocess.Popen([VENV_BIN / "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "wsgi:app"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        rates: dict[str, list[float]] = {"healthz": [], "scan": []}
        errors = 0
        try:
            wait_ready(port, server)
            status, body = get(f"http://127.0.0.1:{port}/api/v1/scan/{token}")
            profile = json.loads(body) if status == 200 else {}
            listed = len(profile.get("institution", {}).get("staff", []))
            if status != 200 or listed != STAFF:
                raise RuntimeError(f"scan check failed: status {status}, {listed} staff listed (want {STAFF})")
            print(f"gunicorn -w {WORKERS} on 127.0.0.1:{port}; scan answers 200 with {listed} staff "
                  f"({len(body)} bytes); {args.concurrency} client threads, {args.seconds:g} s rounds")
            paths = {"healthz": "/healthz", "scan": f"/api/v1/scan/{token}"}
            for path in paths.values():  # warm-up, not counted: first requests, connection pools
                hammer(port, path, 1.0, args.concurrency)
            for number in range(1, args.rounds + 1):
                for name, path in paths.items():
                    rate, ok, failed = hammer(port, path, args.seconds, args.concurrency)
                    rates[name].append(rate)
                    errors += failed
                    print(f"round {number} {name:8} {rate:8.0f} req/s  ({ok} ok, {failed} errors)")
        finally:
            stop(server)
            log.close()
            if errors or server.returncode not in (0, None):
                print("--- gunicorn log (tail) ---\n" + Path(f"{tmp}/gunicorn.log").read_text()[-3000:])
    healthz, scan = statistics.median(rates["healthz"]), statistics.median(rates["scan"])
    ratio = scan / healthz if healthz else 0.0
    passed = errors == 0 and ratio >= TARGET
    print(f"median healthz {healthz:.0f} req/s, median scan {scan:.0f} req/s, ratio {ratio:.2f} "
          f"(target >= {TARGET}), errors {errors}: {'PASS' if passed else 'FAIL'}")
    return 0 if passed or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
