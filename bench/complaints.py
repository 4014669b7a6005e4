"""Complaint intake under load: submissions per second on SQLite and PostgreSQL (issue 3).

Run from the repo root:  .venv/bin/python bench/complaints.py [--database sqlite|postgresql|both]
                         [--seconds 10] [--clients 16] [--workers N] [--worker-class sync|gthread --threads N] [--keys]

For each database it builds a throwaway one (SQLite: a temporary file; PostgreSQL: a fresh schema in
PG_URL, created and dropped here), runs the migrations with `flask --app wsgi db upgrade`, seeds
--institutions institutions with --staff staff each through the service layer, and serves it with
gunicorn on 127.0.0.1 as the README's production command does (`gunicorn -c gunicorn.conf.py wsgi:app`:
its worker count, preloading and access log; rate limits off). --clients threads then POST /api/v1/complaints for --seconds
with prebuilt bodies: targets mixed (an institution's code token, institution_id, staff_id), categories
mixed (serious and not, with the details their forms require), anonymous and named. Every receipt
(201: tracking_no, query_code) is kept; afterwards each one is read back with
GET /api/v1/complaints/track and must answer 200 with status "submitted", and the complaints table must
hold exactly as many rows as were acknowledged.

Targets: TARGETS submissions/s (acknowledged 201s per second over the timed phase), no errors, nothing
lost, no duplicate tracking numbers, rows == acknowledged. Exit status 1 if missed (unless --report-only).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import harness  # first: it keeps this file's name from hiding the application's `complaints` package

TARGETS = {"sqlite": 150.0, "postgresql": 600.0}  # acknowledged submissions per second (PostgreSQL: issue 19)
TIMEOUT = 30.0  # per request: a write may wait for SQLite's lock (busy_timeout is 10 s)
BODIES = 1024  # distinct prebuilt requests, cycled through by the clients

CONTENTS = [
    "就诊时医生未说明检查费用，收费明显高于公示价格。",
    "候诊两个小时无人叫号，询问护士时态度恶劣，拒绝解释原因。",
    "诊所在未取得相应资质的情况下开展输液治疗，存在安全隐患。",
    "药房出售的药品包装破损，批号与发票上的批号不一致，怀疑来源不明。",
    "门诊医生在诊室内推销保健品，并暗示购买后可以优先安排检查。",
]
# (category, details its form needs or allows, weight): mostly ordinary categories, some serious ones.
CATEGORIES = [
    ("medical_quality", {"clinic_department": "内科", "harm": False}, 4),
    ("attitude_ethics", {"staff_name": "值班医生"}, 4),
    ("prices_charges", {"amount": 268.5, "invoice_no": "FP2026001"}, 3),
    ("drugs_devices", {"product_name": "某某胶囊", "batch_no": "B20260101"}, 2),
    ("advertising", {"medium": "公众号"}, 1),
    ("licences", {}, 1),
    ("insurance_fraud", {"fraud_type": "drug_swap", "amount": 1200}, 1),  # serious: a lead at once
    ("illegal_practice", {"practitioner": "自称退休医生的男子"}, 1),  # serious
]
NAMES = ["张三", "李四", "王五", "赵六", "刘女士", "陈先生"]


def parse_args() -> argparse.Namespace:
    parser = harness.parser(__doc__)
    harness.add_database(parser, ("sqlite", "postgresql", "both"), "both",
                         "; a schema is created in it for the run and dropped afterwards")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the timed phase (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py's, 2 x CPUs + 1, as in production)")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync",
                        help="gunicorn worker class (default sync)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread; default 1)")
    parser.add_argument("--institutions", type=int, default=20, help="institutions complained about (default 20)")
    parser.add_argument("--keys", action="store_true",
                        help="send each submission with its own Idempotency-Key, as API.md advises clients to")
    parser.add_argument("--staff", type=int, default=5, help="staff per institution (default 5)")
    harness.add_port(parser)
    harness.add_report_only(parser)
    args = parser.parse_args()
    if args.threads > 1 and args.worker_class == "sync":
        args.worker_class = "gthread"  # as gunicorn itself does: --threads > 1 means gthread
    return args


# ---- the database -----------------------------------------------------------------------------------

def count_rows(database: harness.Database) -> tuple[int, int]:
    """(rows in complaints, distinct tracking numbers among them)."""
    import sqlalchemy as sa

    engine = sa.create_engine(database.url)
    try:
        with engine.connect() as connection:
            return tuple(connection.execute(sa.text(
                "SELECT count(*), count(DISTINCT tracking_no) FROM complaints")).one())
    finally:
        engine.dispose()


def seed(url: str, institutions: int, staff_each: int) -> dict:
    """Institutions with staff, through the service layer; their ids and institution code tokens."""
    from stdnum.cn import ric, uscc

    from api.database import db
    from directory import service as directory
    from onecode import create_app

    today = dt.date.today()
    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    targets = {"institution_ids": [], "code_tokens": [], "staff_ids": []}
    roles = ("physician", "nurse", "pharmacist", "technician")
    with app.app_context():
        for i in range(1, institutions + 1):
            body = f"91370112MA3C{i:05d}"
            institution = directory.create_institution(session=db.session, data={
                "name": f"压测诊所{i}", "uscc": body + uscc.calc_check_digit(body),
                "licence_no": f"PDY{i:05d}-137011217D2112", "category": "clinic", "scope": ["内科", "外科"],
                "address": f"压测市历城区测试路 {i} 号", "street": "山大路街道", "legal_representative": "王某",
                "principal": "王某", "licence_valid_from": today - dt.timedelta(days=365),
                "licence_valid_to": today + dt.timedelta(days=1000), "phone": "0531-88000000",
                "remote_monitoring": False})
            for n in range(staff_each):
                serial = (i * staff_each + n) % 1000
                id_body = f"37010219900101{serial:03d}"
                member = directory.create_staff(session=db.session, institution=institution, data={
                    "name": f"医生{i}-{n}", "role": roles[n % len(roles)],
                    "id_number": id_body + ric.calc_check_digit(id_body + "0"), "title": "主治医师",
                    "qualification_no": f"Q{i:03d}{n:03d}", "practice_cert_no": f"P{i:04d}{n:05d}",
                    "practice_category": "临床", "practice_scope": "内科专业"})
                db.session.flush()
                targets["staff_ids"].append(member.id)
            targets["institution_ids"].append(institution.id)
            targets["code_tokens"].append(institution.code.token)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return targets


# ---- the requests -----------------------------------------------------------------------------------

KEY_SLOT = b"Idempotency-Key: " + b"?" * 32  # --keys: each send puts a fresh key here (uuid4().hex)


def build_requests(port: int, targets: dict, count: int, keys: bool = False) -> tuple[list[bytes], collections.Counter]:
    """`count` distinct prebuilt POSTs (seeded, so every run sends the same mix) and what the mix is;
    with `keys`, each has a KEY_SLOT header for the sender to fill."""
    rng = random.Random(3)
    weights = [w for _, _, w in CATEGORIES]
    mix: collections.Counter = collections.Counter()
    requests = []
    for n in range(count):
        kind = ("code_token", "institution_id", "staff_id")[n % 3]
        pool = {"code_token": targets["code_tokens"], "institution_id": targets["institution_ids"],
                "staff_id": targets["staff_ids"]}[kind]
        category, details, _ = rng.choices(CATEGORIES, weights)[0]
        anonymous = n % 2 == 0
        body = {"category": category, "content": rng.choice(CONTENTS), "target": {kind: rng.choice(pool)},
                "details": details, "anonymous": anonymous,
                "occurred_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1 + n % 20)).isoformat()}
        if not anonymous:
            body["contact_name"] = rng.choice(NAMES)
            body["contact_phone"] = f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}"
        payload = json.dumps(body, ensure_ascii=False).encode()
        requests.append(
            f"POST /api/v1/complaints HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n".encode()
            + (KEY_SLOT + b"\r\n" if keys else b"") + b"\r\n" + payload)
        mix[kind] += 1
        mix[category] += 1
        mix["anonymous" if anonymous else "named"] += 1
    return requests, mix


def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on its own connection (sync workers close it after each answer): (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head[9:12]), body


def run_clients(port: int, requests: list[bytes], seconds: float, clients: int):
    """POST from `clients` threads for `seconds`: (elapsed, receipt bodies, error count, error samples)."""

    def client(offset: int, deadline: float):
        ok, errors, samples = [], 0, []
        n = offset
        while time.monotonic() < deadline:
            request = requests[n % len(requests)]
            if KEY_SLOT in request:  # a new submission, not a retry of an earlier one
                request = request.replace(KEY_SLOT, b"Idempotency-Key: " + uuid.uuid4().hex.encode())
            n += clients
            try:
                status, body = exchange(port, request)
            except (OSError, ValueError) as error:
                errors += 1
                if len(samples) < 3:
                    samples.append(f"{type(error).__name__}: {error}")
                continue
            if status == 201:
                ok.append(body)  # parsed after the timed phase: the client stays cheap
            else:
                errors += 1
                if len(samples) < 3:
                    samples.append(f"{status}: {body[:300].decode(errors='replace')}")
        return ok, errors, samples

    elapsed, results = harness.run_threads(client, clients, seconds, grace=TIMEOUT + 10)
    bodies = [body for ok, _, _ in results for body in ok]
    return elapsed, bodies, sum(r[1] for r in results), [s for r in results for s in r[2]]


def read_back(port: int, receipts: list[dict], clients: int) -> tuple[int, list[str]]:
    """Track every acknowledged case; (cases not readable with the right status, samples)."""
    queue = list(receipts)
    lock = threading.Lock()
    lost, samples = [], []

    def client():
        while True:
            with lock:
                if not queue:
                    return
                receipt = queue.pop()
            query = urllib.parse.urlencode({"tracking_no": receipt["tracking_no"], "query_code": receipt["query_code"]})
            request = (f"GET /api/v1/complaints/track?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                       f"Connection: close\r\n\r\n").encode()
            try:
                status, body = exchange(port, request)
                case = json.loads(body) if status == 200 else {}
            except (OSError, ValueError) as error:
                status, case = f"{type(error).__name__}: {error}", {}
            if case.get("tracking_no") != receipt["tracking_no"] or case.get("status") != "submitted":
                with lock:
                    lost.append(receipt["tracking_no"])
                    if len(samples) < 3:
                        samples.append(f"{receipt['tracking_no']}: {status} {str(case)[:200]}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(lost), samples


# ---- the server ---------------------------------------------------------------------------------------

CONFIG = harness.ROOT / "gunicorn.conf.py"


def gunicorn_command(args: argparse.Namespace) -> list:
    """The README's production command; --worker-class gthread adds gunicorn's own options, which win
    over the file."""
    command = ["-c", str(CONFIG)]
    if args.worker_class == "gthread":
        command += ["-k", "gthread", "--threads", str(args.threads)]
    return command + ["wsgi:app"]


def gunicorn_env(args: argparse.Namespace, port: int) -> dict:
    """gunicorn.conf.py's variables: this run's address, and --workers if given."""
    return {"ONECODE_BIND": f"127.0.0.1:{port}", **({"ONECODE_WORKERS": str(args.workers)} if args.workers else {})}


def worker_count(args: argparse.Namespace) -> int:
    """What gunicorn.conf.py makes of the environment gunicorn gets."""
    import runpy

    return args.workers or runpy.run_path(str(CONFIG))["worker_count"]({**os.environ, **gunicorn_env(args, 0)})


def describe(args: argparse.Namespace) -> str:
    described = f"gunicorn -c gunicorn.conf.py ({worker_count(args)} workers)"
    if args.worker_class == "gthread":
        described += f" -k gthread --threads {args.threads}"
    return described


# ---- one database -----------------------------------------------------------------------------------

def bench(kind: str, args: argparse.Namespace) -> dict:
    port = args.port or harness.free_port()
    with tempfile.TemporaryDirectory(prefix="onecode-bench-") as tmp:
        database = harness.Database(kind, tmp, args.pg_url)
        log_path = Path(tmp) / "gunicorn.log"
        server = None
        result = {"database": kind, "config": describe(args)}
        try:
            env = harness.server_env(database.url, tmp, f"http://127.0.0.1:{port}", **gunicorn_env(args, port))
            harness.migrate(env)
            targets = seed(database.url, args.institutions, args.staff)
            requests, mix = build_requests(port, targets, BODIES, keys=args.keys)
            server = harness.gunicorn(gunicorn_command(args), env, log_path)
            harness.wait_ready(port, server)
            print(f"\n== {database.label}\n{describe(args)} on 127.0.0.1:{port}; {args.clients} client threads, "
                  f"{args.seconds:g} s; {args.institutions} institutions x {args.staff} staff; "
                  f"{'an Idempotency-Key each; ' if args.keys else ''}"
                  f"{len(requests)} prebuilt bodies: " + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())))

            # Warm-up, not timed: imports, first queries, connection pools. Its cases are checked too.
            _, warm_bodies, warm_errors, warm_samples = run_clients(port, requests[::-1], 1.0, args.clients)
            reference = harness.reference_loop()
            with harness.CpuAccount(server, database) as account:
                elapsed, bodies, errors, samples = run_clients(port, requests, args.seconds, args.clients)
            reference = (reference + harness.reference_loop()) / 2
            cpu = {name: seconds * 1000 / max(len(bodies), 1) for name, seconds in account.totals.items()}
            errors += warm_errors
            samples = warm_samples + samples
            receipts = [json.loads(body) for body in warm_bodies + bodies]
            numbers = collections.Counter(r["tracking_no"] for r in receipts)
            duplicates = sum(n - 1 for n in numbers.values() if n > 1)
            lost, lost_samples = read_back(port, receipts, args.clients)
            rows, distinct_rows = count_rows(database)
            result |= {"rate": len(bodies) / elapsed, "acknowledged": len(bodies), "elapsed": elapsed,
                       "warmup": len(warm_bodies), "errors": errors, "lost": lost, "duplicates": duplicates,
                       "rows": rows, "distinct_rows": distinct_rows, "total_ack": len(receipts), "cpu": cpu,
                       "reference": reference}
            for sample in samples + lost_samples:
                print(f"  sample problem: {sample}")
        finally:
            if server is not None:
                harness.stop(server)
                if result.get("errors") or result.get("lost") or server.returncode not in (0, None):
                    print(harness.log_tail(log_path))
            database.drop()
    target = TARGETS[kind]
    result["target"] = target
    result["passed"] = (result["rate"] >= target and result["errors"] == 0 and result["lost"] == 0
                        and result["duplicates"] == 0 and result["rows"] == result["total_ack"]
                        and result["distinct_rows"] == result["rows"])
    print(f"{kind}: {result['rate']:.0f} submissions/s ({result['acknowledged']} acknowledged in "
          f"{result['elapsed']:.1f} s, plus {result['warmup']} in warm-up; target >= {target:.0f}/s), "
          f"errors {result['errors']}, lost {result['lost']}, duplicate tracking numbers {result['duplicates']}, "
          f"rows {result['rows']} (acknowledged {result['total_ack']}): {'PASS' if result['passed'] else 'FAIL'}")
    cpu = result["cpu"]
    ours = cpu["app"] + cpu["database"] + cpu["client"]
    print(f"  CPU per acknowledged submission: app (gunicorn) {cpu['app']:.2f} ms, database server {cpu['database']:.2f} ms, "
          f"client {cpu['client']:.2f} ms; whole machine {cpu['machine']:.2f} ms, so {cpu['machine'] - ours:.2f} ms "
          f"(~{other_share(cpu):.0f}%) went to other processes; "
          f"CPU-bound ceiling {os.cpu_count() * 1000 / ours if ours else 0:.0f}/s on {os.cpu_count()} cores; "
          f"reference loop {result['reference']:.0f} ms (the machine's speed: lower is faster)")
    return result


def other_share(cpu: dict) -> float:
    """Per cent of the machine's CPU during the timed phase that went to processes other than ours."""
    ours = cpu["app"] + cpu["database"] + cpu["client"]
    return max(cpu["machine"] - ours, 0) / cpu["machine"] * 100 if cpu["machine"] else 0.0


def main() -> int:
    args = parse_args()
    harness.exit_on_sigterm()  # run the `finally` blocks on kill too
    results = [bench(kind, args) for kind in harness.kinds(args.database)]
    print("\n| database | configuration | submissions/s | target | errors | lost | duplicates | rows = acknowledged "
          "| CPU ms per submission (app + database + client) | other processes' share of the CPU | reference loop |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        cpu = r["cpu"]
        print(f"| {r['database']} | `{r['config']}` | {r['rate']:.0f} | {r['target']:.0f} | {r['errors']} | "
              f"{r['lost']} | {r['duplicates']} | {r['rows']} = {r['total_ack']} "
              f"{'yes' if r['rows'] == r['total_ack'] else 'NO'} | {cpu['app']:.1f} + {cpu['database']:.1f} + "
              f"{cpu['client']:.1f} | {other_share(cpu):.0f}% "
              f"| {r['reference']:.0f} ms |")
    passed = all(r["passed"] for r in results)
    print("PASS" if passed else "FAIL")
    return 0 if passed or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
