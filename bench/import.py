"""Directory import and exports at size: time and peak memory (issue 7).

Run from the repo root:  .venv/bin/python bench/import.py [--institutions 20000] [--complaints 100000]
                         [--database sqlite|postgresql] [--report-only]

1. Builds a throwaway database (SQLite: a temporary file; PostgreSQL: a fresh schema in --pg-url,
   dropped afterwards) with `flask --app wsgi db upgrade`.
2. Writes an .xlsx of --institutions valid institutions (openpyxl write-only; USCCs with their check
   character), then imports it through the real endpoint, POST /api/v1/institutions/import, with an
   admin's token and the Flask test client, in a fresh Python process: the time of the request and that
   process's peak RSS (the generator's memory is not counted). Every row must be created with its code.
3. Inserts --complaints complaints with Core inserts (a few categories and departments, named and
   anonymous), then GET /api/v1/complaints/export?format=csv and ?format=xlsx as an admin, each in a
   fresh process that reads the streamed body to the end: time, bytes and peak RSS. The CSV must hold
   every row.

Targets: import under IMPORT_SECONDS and IMPORT_RSS_MB; each export under EXPORT_SECONDS and
EXPORT_RSS_MB. Exit status 1 if one is missed (unless --report-only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import harness  # first: bench/complaints.py would hide the application's `complaints` package

IMPORT_SECONDS, IMPORT_RSS_MB = 60.0, 300.0
EXPORT_SECONDS, EXPORT_RSS_MB = 30.0, 300.0
STREETS = ["山大路街道", "洪家楼街道", "东风街道", "全福街道", "王舍人街道", "华山街道", "荷花路街道", "舜华路街道"]
CATEGORY_LABELS = ["诊所", "中医诊所", "口腔诊所", "村卫生室", "个体诊所", "医院"]
COMPLAINT_CATEGORIES = [("prices_charges", "market"), ("medical_quality", "health"), ("attitude_ethics", "health"),
                        ("drugs_devices", "market"), ("licences", "health")]


def parse_args() -> argparse.Namespace:
    parser = harness.parser(__doc__)
    parser.add_argument("--institutions", type=int, default=20_000, help="rows in the imported .xlsx (default 20000)")
    parser.add_argument("--complaints", type=int, default=100_000, help="complaints to export (default 100000)")
    harness.add_database(parser, ("sqlite", "postgresql"), "sqlite")
    harness.add_report_only(parser)
    parser.add_argument("--phase", choices=("import", "export"), help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    return parser.parse_args()


def peak_rss_mb() -> float:
    """This process's peak resident set since it started (start-up included)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak() -> None:
    """Start VmHWM afresh (Linux >= 4.0): importing the app peaks on its own (api.auth hashes a dummy
    password with scrypt, 32 MB), which would hide what the request itself needs."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        pass


def request_peak_mb() -> float:
    """The peak resident set since reset_peak()."""
    try:
        with open("/proc/self/status") as file:
            return next(int(line.split()[1]) for line in file if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return peak_rss_mb()


# ---- generating ---------------------------------------------------------------------------------

def uscc_of(serial: int) -> str:
    from stdnum.cn import uscc

    body = f"91370112MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


def write_xlsx(path: Path, count: int) -> None:
    """`count` valid institutions under the import template's Chinese headers, written row by row."""
    import openpyxl

    from directory.imports import INSTITUTION_COLUMNS

    rng = random.Random(7)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("机构")
    sheet.append([chinese for chinese, _ in INSTITUTION_COLUMNS.values()])
    for n in range(1, count + 1):
        valid_from = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
        sheet.append([
            f"压测第{n}诊所", uscc_of(n), f"PDY{n:07d}-137011217D2112", rng.choice(CATEGORY_LABELS), "内科、外科、预防保健科",
            f"济南市历城区压测路 {n} 号", rng.choice(STREETS), f"法人{n % 997}", f"负责人{n % 991}",
            valid_from, valid_from + dt.timedelta(days=5 * 365), f"0531-8{n:07d}", rng.choice(["是", "否"]),
        ])
    workbook.save(path)
    workbook.close()


# ---- the child processes ------------------------------------------------------------------------

def _app_and_token():
    from api import accounts, auth
    from api.database import db
    from onecode import create_app

    app = create_app()
    with app.app_context():
        account = accounts.create_account(session=db.session, username=f"bench-{uuid.uuid4().hex[:8]}",
                                          password="a-long-bench-password", role="admin")
        token = auth.issue_tokens(session=db.session, account=account)["access_token"]
        db.session.commit()
    return app, {"Authorization": f"Bearer {token}"}


def child_import(path: str) -> dict:
    app, headers = _app_and_token()
    data = Path(path).read_bytes()
    boundary = "bench-boundary-5d1c"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="directory.xlsx"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    del data
    client = app.test_client()
    before = peak_rss_mb()
    reset_peak()
    started = time.perf_counter()
    response = client.post("/api/v1/institutions/import", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}", headers=headers)
    seconds = time.perf_counter() - started
    during = request_peak_mb()
    answer = response.get_json()
    from sqlalchemy import func, select

    from api.database import db
    from codes.models import Code
    from registry.models import Institution

    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Institution))
        codes = db.session.scalar(select(func.count()).select_from(Code))
        db.engine.dispose()
    return {"status": response.status_code, "created": answer.get("created"), "rejected": len(answer.get("rejected", [])),
            "stored": stored, "codes": codes, "seconds": seconds, "rss_before_mb": before, "request_peak_mb": during,
            "peak_rss_mb": peak_rss_mb()}


def child_export(fmt: str) -> dict:
    app, headers = _app_and_token()
    client = app.test_client()
    before = peak_rss_mb()
    reset_peak()
    started = time.perf_counter()
    response = client.get("/api/v1/complaints/export", query_string={"format": fmt}, headers=headers, buffered=False)
    size = lines = 0
    first_byte = None
    for block in response.response:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(block)
        lines += block.count(b"\n")
    response.close()
    seconds = time.perf_counter() - started
    during = request_peak_mb()
    with app.app_context():
        from api.database import db

        db.engine.dispose()
    return {"status": response.status_code, "bytes": size, "lines": lines, "seconds": seconds,
            "first_byte_seconds": first_byte, "rss_before_mb": before, "request_peak_mb": during,
            "peak_rss_mb": peak_rss_mb()}


def run_child(env: dict, *extra: str) -> dict:
    completed = subprocess.run([sys.executable, __file__, *extra], cwd=harness.ROOT, env=env, capture_output=True, text=True,
                               timeout=900, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"child {extra} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---- seeding complaints -------------------------------------------------------------------------

def seed_complaints(env: dict, count: int) -> float:
    """`count` complaints about the imported institutions, inserted with Core in batches."""
    os.environ.update(env)
    from sqlalchemy import insert, select

    from api.database import db
    from onecode import create_app

    app = create_app()  # the composition root imports every package
    from complaints.models import Complaint
    from registry.models import Institution

    rng = random.Random(11)
    started = time.perf_counter()
    with app.app_context():
        institution_ids = db.session.scalars(select(Institution.id).order_by(Institution.id).limit(2000)).all()
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        batch = []
        with db.engine.begin() as connection:
            for n in range(1, count + 1):
                category, department = rng.choice(COMPLAINT_CATEGORIES)
                submitted = start + dt.timedelta(minutes=n * 3)
                named = n % 3 == 0
                batch.append({
                    "tracking_no": f"TS2026{n:010d}", "query_code_hash": hashlib.sha256(str(n).encode()).hexdigest(),
                    "category": category, "department": department, "status": "submitted",
                    "content": f"第 {n} 号投诉：就诊时收费高于公示价格，且未出具明细清单，请核查处理。",
                    "details": {}, "target_kind": "institution", "institution_id": rng.choice(institution_ids),
                    "anonymous": not named, "contact_name": "张三" if named else None,
                    "contact_phone": "13912345678" if named else None, "submitted_at": submitted,
                    "accept_due_at": submitted + dt.timedelta(days=7), "updated_at": submitted,
                })
                if len(batch) == 5000:
                    connection.execute(insert(Complaint.__table__), batch)
                    batch = []
            if batch:
                connection.execute(insert(Complaint.__table__), batch)
        db.engine.dispose()
    return time.perf_counter() - started


# ---- the run ------------------------------------------------------------------------------------

def main() -> int:
    args = parse_args()
    if args.phase == "import":
        print(json.dumps(child_import(args.file)))
        return 0
    if args.phase == "export":
        print(json.dumps(child_export(args.format)))
        return 0

    print(f"{harness.machine()}, database {args.database}")
    failures = []
    with tempfile.TemporaryDirectory(prefix="onecode-bench-") as tmp:
        database = harness.Database(args.database, tmp, args.pg_url)
        env = harness.server_env(database.url, tmp, "https://code.example.org",
                                 ONECODE_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")
        try:
            harness.migrate(env, timeout=300)
            path = Path(tmp) / "directory.xlsx"
            started = time.perf_counter()
            write_xlsx(path, args.institutions)
            print(f"wrote {args.institutions} institutions to .xlsx: {path.stat().st_size / 1e6:.1f} MB in "
                  f"{time.perf_counter() - started:.1f} s (generator peak RSS {peak_rss_mb():.0f} MB, not counted)")

            result = run_child(env, "--phase", "import", "--file", str(path))
            ok = (result["status"] == 200 and result["created"] == args.institutions and result["rejected"] == 0
                  and result["stored"] == args.institutions and result["codes"] == args.institutions)
            passed = ok and result["seconds"] < IMPORT_SECONDS and result["peak_rss_mb"] < IMPORT_RSS_MB
            print(f"import: {result['status']}, {result['created']} created, {result['codes']} codes, "
                  f"{result['seconds']:.1f} s ({args.institutions / result['seconds']:.0f} rows/s), peak RSS during the "
                  f"request {result['request_peak_mb']:.0f} MB, process peak {result['peak_rss_mb']:.0f} MB: "
                  f"{'PASS' if passed else 'FAIL'} (targets < {IMPORT_SECONDS:.0f} s, < {IMPORT_RSS_MB:.0f} MB)")
            if not passed:
                failures.append("import")

            seconds = seed_complaints(env, args.complaints)
            print(f"inserted {args.complaints} complaints in {seconds:.1f} s")
            for fmt in ("csv", "xlsx"):
                result = run_child(env, "--phase", "export", "--format", fmt)
                ok = result["status"] == 200 and (fmt != "csv" or result["lines"] == args.complaints + 1)
                passed = ok and result["seconds"] < EXPORT_SECONDS and result["peak_rss_mb"] < EXPORT_RSS_MB
                print(f"export {fmt}: {result['status']}, {result['bytes'] / 1e6:.1f} MB"
                      + (f", {result['lines'] - 1} rows" if fmt == "csv" else "")
                      + f", {result['seconds']:.1f} s (first byte {result['first_byte_seconds']:.2f} s), peak RSS during the "
                      f"request {result['request_peak_mb']:.0f} MB, process peak {result['peak_rss_mb']:.0f} MB: "
                      f"{'PASS' if passed else 'FAIL'} (targets < {EXPORT_SECONDS:.0f} s, < {EXPORT_RSS_MB:.0f} MB)")
                if not passed:
                    failures.append(f"export {fmt}")
        finally:
            database.drop()
    print("all targets met" if not failures else f"missed: {', '.join(failures)}")
    return 0 if not failures or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
