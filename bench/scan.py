"""Throughput of the public scan against /healthz on the same gunicorn server (issue 19: the hot path).

Run from the repo root:  .venv/bin/python bench/scan.py [--database both] [--institutions 20000]
                         [--rounds 3] [--seconds 5] [--concurrency 16] [--workers 2]

For each database (SQLite, PostgreSQL or both) it builds a throwaway database: migrations, one hospital
with 50 staff through the service layer, and N more institutions with their codes and unbuilt ready
profiles by bulk insert (a city). `flask build-profiles` then builds every profile (timed), as after a
release; scans would build them one by one otherwise. It serves the database with `gunicorn -w 2
wsgi:app` on 127.0.0.1 and alternates fixed-length rounds from `--concurrency` client threads:

- healthz: GET /healthz (routing plus `SELECT 1`), the yardstick;
- same:    GET /api/v1/scan/{token} of the hospital, over and over (a busy door);
- spread:  GET /api/v1/scan/{token} of a random one of the N institutions for every request.

CPU per request of gunicorn (and of PostgreSQL's backends) is measured from /proc, which a busy shared
machine disturbs less than wall-clock rates. Last, a code is revoked from another process and the next
scans of it, in every worker, must answer 410.

Targets: spread >= 0.5 and same >= 0.9 of /healthz's throughput (the median over rounds of each round's
ratio: a round's three kinds run back to back, so load from elsewhere that drifts cancels out), no errors,
every scan of the revoked code 410. The ratio of CPU per request (healthz's over the scan's) is printed
beside it: the ratio the throughputs would have on an otherwise idle machine. Exit status 1 if one is missed (unless --report-only).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness

STAFF = 50
TARGETS = {"same": 0.9, "spread": 0.5}


def parse_args():
    parser = harness.parser(__doc__)
    harness.add_database(parser, ("sqlite", "postgresql", "both"), "both")
    parser.add_argument("--institutions", type=int, default=20_000, help="institutions in the city (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="round triples (healthz, same, spread) (default 3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each round in seconds (default 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    harness.add_port(parser)
    harness.add_report_only(parser, "a target is missed")
    return parser.parse_args()


def seed(env: dict, institutions: int) -> tuple[str, list[str]]:
    """The hospital with STAFF staff (service layer) and `institutions` more (bulk inserts, each with its
    code and an unbuilt ready profile, as the migration leaves existing codes); their tokens."""
    os.environ.update(env)  # create_app reads ONECODE_* from the environment, as the workers will
    from sqlalchemy import insert, select
    from stdnum.cn import ric, uscc

    from api.database import db, utcnow
    from codes.models import Code
    from codes.service import new_token
    from directory import service as directory
    from onecode import create_app
    from registry.models import Institution
    from registry.ready_profiles import ReadyProfile

    today, now, rng = dt.date.today(), utcnow(), random.Random(19)
    body = "91370112MA3C00001"
    app = create_app()
    with app.app_context():
        hospital = directory.create_institution(session=db.session, data={
            "name": "压测市人民医院", "uscc": body + uscc.calc_check_digit(body), "licence_no": "PDY00001-137011217A1001",
            "category": "hospital", "scope": ["内科", "外科", "儿科", "妇产科"], "address": "压测市历城区山大路 1 号",
            "street": "山大路街道", "legal_representative": "王某", "principal": "王某",
            "licence_valid_from": today - dt.timedelta(days=365), "licence_valid_to": today + dt.timedelta(days=1000),
            "phone": "0531-88000000", "remote_monitoring": False})
        roles = ("physician", "nurse", "pharmacist", "technician")
        for n in range(1, STAFF + 1):
            id_body = f"37010219900101{n:03d}"
            directory.create_staff(session=db.session, institution=hospital, data={
                "name": f"医生{n}", "role": roles[n % len(roles)], "id_number": id_body + ric.calc_check_digit(id_body + "0"),
                "title": "主治医师", "qualification_no": f"Q{n:06d}", "practice_cert_no": f"P{n:09d}",
                "practice_category": "临床", "practice_scope": "内科专业"})
        db.session.commit()
        hospital_token = hospital.code.token
        first = db.session.scalar(select(Institution.id).order_by(Institution.id.desc()).limit(1)) + 1
        db.session.execute(insert(Institution), [{
            "name": f"压测诊所{n:05d}", "uscc": f"91370112MB{n:08d}", "licence_no": f"PDY{n:06d}-137011217D3112",
            "category": rng.choice(("clinic", "dental", "tcm_clinic", "village_clinic")), "scope": ["内科"],
            "address": f"压测市某路 {n} 号", "street": "山大路街道", "legal_representative": "王某", "principal": "王某",
            "licence_valid_from": (start := today - dt.timedelta(days=rng.randint(30, 1500))),
            "licence_valid_to": start + dt.timedelta(days=5 * 365), "phone": "0531-88000000",
            "remote_monitoring": False, "status": "active", "credit_grade": "B", "credit_points": 0,
            "credit_lists": [], "credit_risk": "low", "created_at": now, "updated_at": now,
        } for n in range(1, institutions + 1)])
        ids = list(db.session.scalars(select(Institution.id).where(Institution.id >= first).order_by(Institution.id)))
        tokens = [new_token() for _ in ids]
        db.session.execute(insert(Code), [{"token": token, "institution_id": institution_id, "status": "active",
                                           "issued_at": now} for token, institution_id in zip(tokens, ids, strict=True)])
        code_ids = dict(db.session.execute(select(Code.institution_id, Code.id).where(Code.institution_id >= first)).all())
        db.session.execute(insert(ReadyProfile), [{"code_id": code_ids[i], "institution_id": i, "version": 1} for i in ids])
        db.session.commit()
        db.engine.dispose()
    return hospital_token, tokens


def build_profiles(env: dict) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run([harness.VENV_BIN / "flask", "--app", "wsgi", "build-profiles"], cwd=harness.ROOT, env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`flask build-profiles` failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.monotonic() - started, done.stdout.strip()


def revoke(env: dict, token: str) -> None:
    """Revoke a code from this process (another process than the workers), as an officer would."""
    os.environ.update(env)
    from api.database import db
    from codes import service
    from onecode import create_app

    app = create_app()
    with app.app_context():
        service.revoke(session=db.session, token=token, reason="压测：海报被盗", by_account_id=None)
        db.session.commit()
        db.engine.dispose()


def hammer(port: int, paths: list[str], seconds: float, concurrency: int, status: bytes = b"200"):
    """GET a random one of `paths` per request from `concurrency` threads for `seconds`; returns
    (answers with `status` per second, such answers, other answers and errors).

    Raw sockets and prebuilt requests keep the client cheap: it shares the cores with the server.
    Gunicorn's sync workers close the connection after each answer, so each request has its own."""
    requests = [f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode() for path in paths]
    wanted = (b"HTTP/1.1 " + status + b" ", b"HTTP/1.0 " + status + b" ")

    def client(index: int, deadline: float) -> tuple[int, int]:
        pick = random.Random(index).choice
        ok = errors = 0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(pick(requests))
                    head = sock.recv(65536)
                    while sock.recv(65536):  # read to the end so the whole answer counts
                        pass
                if head.startswith(wanted):
                    ok += 1
                else:
                    errors += 1
            except OSError:
                errors += 1
        return ok, errors

    elapsed, counts = harness.run_threads(client, concurrency, seconds, grace=10)  # socket timeouts bound it
    ok, errors = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return ok / elapsed, ok, errors


def run(kind: str, args, tmp: str) -> dict:
    database = harness.Database(kind, tmp, args.pg_url)
    port = args.port or harness.free_port()
    env = harness.server_env(database.url, tmp, f"http://127.0.0.1:{port}")
    log_path = Path(tmp) / f"gunicorn-{kind}.log"
    server = None
    try:
        harness.migrate(env)
        started = time.monotonic()
        hospital, city = seed(env, args.institutions)
        seeded = time.monotonic() - started
        build_seconds, built = build_profiles(env)
        print(f"[{kind}] {database.label}: seeded {args.institutions} institutions + 1 hospital with {STAFF} staff "
              f"in {seeded:.1f} s; build-profiles: {built} in {build_seconds:.1f} s "
              f"({build_seconds / (args.institutions + STAFF + 1) * 1000:.2f} ms each)")
        server = harness.gunicorn(["-w", str(args.workers), "-b", f"127.0.0.1:{port}", "wsgi:app"], env, log_path)
        harness.wait_ready(port, server)
        status, body = harness.get(f"http://127.0.0.1:{port}/api/v1/scan/{hospital}")
        listed = len(json.loads(body).get("institution", {}).get("staff", [])) if status == 200 else 0
        if listed != STAFF:
            raise RuntimeError(f"scan check failed: status {status}, {listed} staff listed (want {STAFF})")
        paths = {"healthz": ["/healthz"], "same": [f"/api/v1/scan/{hospital}"],
                 "spread": [f"/api/v1/scan/{token}" for token in city]}
        for choices in paths.values():  # warm-up, not counted: first requests, connection pools
            hammer(port, choices, 1.0, args.concurrency)
        rates: dict[str, list[float]] = {name: [] for name in paths}
        cpu: dict[str, list[float]] = {name: [] for name in paths}
        db_cpu: dict[str, list[float]] = {name: [] for name in paths}
        errors = 0
        for number in range(1, args.rounds + 1):
            for name, choices in paths.items():
                with harness.CpuAccount(server, database) as account:
                    rate, ok, failed = hammer(port, choices, args.seconds, args.concurrency)
                rates[name].append(rate)
                cpu[name].append(account.totals["app"] / max(ok, 1) * 1000)
                db_cpu[name].append(account.totals["database"] / max(ok, 1) * 1000)
                errors += failed
                print(f"[{kind}] round {number} {name:8} {rate:7.0f} req/s  ({ok} ok, {failed} errors; gunicorn "
                      f"{cpu[name][-1]:.2f} ms CPU/request"
                      + (f", PostgreSQL {db_cpu[name][-1]:.2f} ms" if kind == "postgresql" else "") + ")")
        victim = city[0]
        revoke(env, victim)
        _, gone, not_gone = hammer(port, [f"/api/v1/scan/{victim}"], 1.0, args.concurrency, status=b"410")
        print(f"[{kind}] revoked from another process: the next {gone + not_gone} scans of it answered "
              f"410 {gone} times, otherwise {not_gone} times")
        ratios = {name: statistics.median(rate / healthz for rate, healthz in zip(rates[name], rates["healthz"], strict=True))
                  for name in TARGETS}  # each round's triple runs back to back: load that drifts cancels out
        return {"kind": kind, "rates": {name: statistics.median(values) for name, values in rates.items()},
                "ratios": ratios,
                "cpu": {name: statistics.median(values) for name, values in cpu.items()},
                "db_cpu": {name: statistics.median(values) for name, values in db_cpu.items()},
                "errors": errors, "revoked_ok": gone > 0 and not_gone == 0, "build_seconds": build_seconds}
    finally:
        if server is not None:
            harness.stop(server)
            if server.returncode not in (0, None, -15):
                print(harness.log_tail(log_path))
        database.drop()


def main() -> int:
    args = parse_args()
    harness.exit_on_sigterm()  # run the `finally` blocks (servers, schemas) on kill too
    print(f"machine: {harness.machine()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"reference loop {harness.reference_loop():.0f} ms; gunicorn -w {args.workers}, {args.concurrency} client "
          f"threads, {args.seconds:g} s rounds")
    results = []
    with tempfile.TemporaryDirectory(prefix="onecode-bench-") as tmp:
        for kind in harness.kinds(args.database):
            results.append(run(kind, args, tmp))
    passed = True
    for result in results:
        healthz = result["rates"]["healthz"]
        line = [f"[{result['kind']}] median healthz {healthz:.0f} req/s ({result['cpu']['healthz']:.2f} ms CPU)"]
        for name, target in TARGETS.items():
            ratio = result["ratios"][name]
            passed &= ratio >= target
            line.append(f"{name} {result['rates'][name]:.0f} req/s ({result['cpu'][name]:.2f} ms CPU), ratio {ratio:.2f} "
                        f"(target >= {target}; by CPU {result['cpu']['healthz'] / result['cpu'][name]:.2f})")
        passed &= result["errors"] == 0 and result["revoked_ok"]
        print("; ".join(line) + f"; errors {result['errors']}; revoked 410 everywhere: {result['revoked_ok']}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {'PASS' if passed else 'FAIL'}")
    return 0 if passed or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
