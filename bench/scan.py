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
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness

WORKERS = 2
STAFF = 50
TARGET = 0.5


def parse_args() -> argparse.Namespace:
    parser = harness.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="round pairs (healthz, scan) to run (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each round in seconds (default 5)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    harness.add_port(parser)
    parser.add_argument("--no-scan-cache", action="store_true",
                        help="set ONECODE_SCAN_CACHE_SECONDS=0: every scan reads the database")
    harness.add_report_only(parser, "the target is missed")
    return parser.parse_args()


def seed(env: dict) -> str:
    """One institution with STAFF staff, through the service layer; returns its active code token."""
    os.environ.update(env)  # create_app reads ONECODE_* from the environment, as the workers will
    from stdnum.cn import ric, uscc

    from api.database import db
    from directory import service as directory
    from onecode import create_app

    today = dt.date.today()
    body = "91370112MA3C00001"
    app = create_app()
    with app.app_context():
        institution = directory.create_institution(session=db.session, data={
            "name": "压测市人民医院", "uscc": body + uscc.calc_check_digit(body), "licence_no": "PDY00001-137011217A1001",
            "category": "hospital", "scope": ["内科", "外科", "儿科", "妇产科"], "address": "压测市历城区山大路 1 号",
            "street": "山大路街道", "legal_representative": "王某", "principal": "王某",
            "licence_valid_from": today - dt.timedelta(days=365), "licence_valid_to": today + dt.timedelta(days=1000),
            "phone": "0531-88000000", "remote_monitoring": False})
        roles = ("physician", "nurse", "pharmacist", "technician")
        for n in range(1, STAFF + 1):
            id_body = f"37010219900101{n:03d}"
            directory.create_staff(session=db.session, institution=institution, data={
                "name": f"医生{n}", "role": roles[n % len(roles)], "id_number": id_body + ric.calc_check_digit(id_body + "0"),
                "title": "主治医师", "qualification_no": f"Q{n:06d}", "practice_cert_no": f"P{n:09d}",
                "practice_category": "临床", "practice_scope": "内科专业"})
        db.session.commit()
        token = institution.code.token
        db.engine.dispose()
    return token


def hammer(port: int, path: str, seconds: float, concurrency: int) -> tuple[float, int, int]:
    """GET `path` from `concurrency` threads for `seconds`; returns (200s per second, 200s, errors).

    Raw sockets and a prebuilt request keep the client cheap: it shares the 2 cores with the server.
    Gunicorn's sync workers close the connection after each answer, so each request has its own.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()

    def client(_, deadline: float) -> tuple[int, int]:
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
        return ok, errors

    # bounded: socket timeouts end a stuck request within 5 s
    elapsed, counts = harness.run_threads(client, concurrency, seconds, grace=10)
    ok, errors = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return ok / elapsed, ok, errors


def main() -> int:
    args = parse_args()
    harness.exit_on_sigterm()  # run the `finally` below on kill too
    port = args.port or harness.free_port()
    with tempfile.TemporaryDirectory(prefix="onecode-bench-") as tmp:
        env = harness.server_env(f"sqlite:///{tmp}/onecode.db", tmp, f"http://127.0.0.1:{port}",
                                 **({"ONECODE_SCAN_CACHE_SECONDS": "0"} if args.no_scan_cache else {}))
        harness.migrate(env)
        token = seed(env)
        log_path = Path(tmp) / "gunicorn.log"
        server = harness.gunicorn(["-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "wsgi:app"], env, log_path)
        rates: dict[str, list[float]] = {"healthz": [], "scan": []}
        errors = 0
        try:
            harness.wait_ready(port, server)
            status, body = harness.get(f"http://127.0.0.1:{port}/api/v1/scan/{token}")
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
            harness.stop(server)
            if errors or server.returncode not in (0, None):
                print(harness.log_tail(log_path))
    healthz, scan = statistics.median(rates["healthz"]), statistics.median(rates["scan"])
    ratio = scan / healthz if healthz else 0.0
    passed = errors == 0 and ratio >= TARGET
    print(f"median healthz {healthz:.0f} req/s, median scan {scan:.0f} req/s, ratio {ratio:.2f} "
          f"(target >= {TARGET}), errors {errors}: {'PASS' if passed else 'FAIL'}")
    return 0 if passed or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
