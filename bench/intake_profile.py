"""Complaint intake in one process: SQL statements and CPU per submission, optionally profiled.

Run from the repo root:
    .venv/bin/python bench/intake_profile.py [--database postgresql|sqlite] [-n 1000] [--profile]
    SORT=tottime LINES=80 .venv/bin/python bench/intake_profile.py --profile   (cProfile's order and length)

The same database, seed and request bodies as bench/complaints.py, but the submissions go through
Flask's test client in this process, one after another, so what is counted is the app alone: SQL
statements per submission (exact) and this process's CPU per submission (varies with the machine's
speed, as bench/complaints.py explains). `--profile` prints the functions that took the CPU (cProfile
with a CPU clock). For numbers that do not move with the machine, count instructions with valgrind:

    CALLGRIND=1 valgrind --tool=callgrind --instr-atstart=no .venv/bin/python bench/intake_profile.py -n 100

(instrumentation is switched on for the timed submissions only; `callgrind_annotate` or the `totals:`
line of the output file gives the count; divide by -n).
"""

from __future__ import annotations

import cProfile
import importlib.util
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid

import harness  # first: the app's packages come from this checkout, not from this folder

# bench/complaints.py by its path: under its own name it would be the application's `complaints`.
_spec = importlib.util.spec_from_file_location("bench_complaints", harness.HERE / "complaints.py")
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)
WARM_UP = 100


def main() -> int:
    parser = harness.parser(__doc__)
    harness.add_database(parser, ("postgresql", "sqlite"), "postgresql")
    parser.add_argument("-n", type=int, default=1000, help="timed submissions (default 1000)")
    parser.add_argument("--institutions", type=int, default=20,
                        help="institutions complained about (default 20: most complaints join an open lead; "
                             "with many, most take the path without one)")
    parser.add_argument("--staff", type=int, default=5, help="staff per institution (default 5)")
    parser.add_argument("--profile", action="store_true", help="print where the CPU went (cProfile)")
    parser.add_argument("--keys", action="store_true",
                        help="send each submission with its own Idempotency-Key, as the mini-program does")
    args = parser.parse_args()

    from sqlalchemy import event

    from api.database import db
    from onecode import create_app

    with tempfile.TemporaryDirectory(prefix="onecode-intake-") as tmp:
        database = harness.Database(args.database, tmp, args.pg_url)
        try:
            harness.migrate({**os.environ, "ONECODE_DATABASE_URL": database.url})
            targets = common.seed(database.url, args.institutions, args.staff)
            requests, _ = common.build_requests(0, targets, common.BODIES)
            bodies = [request.partition(b"\r\n\r\n")[2] for request in requests]
            app = create_app({"DATABASE_URL": database.url, "RATELIMIT_ENABLED": False,
                              "UPLOAD_DIR": f"{tmp}/uploads"})
            client = app.test_client()

            def post(body: bytes) -> None:
                headers = {"Idempotency-Key": str(uuid.uuid4())} if args.keys else {}
                response = client.post("/api/v1/complaints", data=body, content_type="application/json",
                                       headers=headers)
                assert response.status_code == 201, response.get_data(as_text=True)

            for body in bodies[:WARM_UP]:
                post(body)
            statements = 0

            def count(*_):
                nonlocal statements
                statements += 1

            with app.app_context():
                event.listen(db.engine, "before_cursor_execute", count)
            profiler = cProfile.Profile(time.process_time)
            callgrind = os.environ.get("CALLGRIND")
            if callgrind:
                subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
            if args.profile:
                profiler.enable()
            started = time.process_time()
            for n in range(args.n):
                post(bodies[(WARM_UP + n) % len(bodies)])
            cpu = time.process_time() - started
            if args.profile:
                profiler.disable()
            if callgrind:
                subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True)
            print(f"{args.database}: {args.n} submissions{' with keys' if args.keys else ''}, {statements / args.n:.2f} SQL statements and "
                  f"{cpu / args.n * 1000:.2f} ms CPU each (this process; reference loop "
                  f"{harness.reference_loop():.0f} ms){' (profiled: slower)' if args.profile else ''}")
            if args.profile:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("LINES", "60")))
                print(out.getvalue())
        finally:
            database.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
