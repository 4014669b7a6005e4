"""What the benchmarks share: paths, arguments, a throwaway database, a gunicorn server, client threads,
and the machine's report (its CPUs and how fast it is running). Not a benchmark: bench/*.py import it.

Importing it also fixes `sys.path` for them: a script's own folder comes first when it is run, and
bench/complaints.py would hide the application's `complaints` package there. The folder is dropped and
the checkout this file is in comes first instead, so that what a benchmark imports and seeds is the same
code as the server it starts (gunicorn and flask run in ROOT).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() not in (HERE, ROOT)]
VENV_BIN = Path(sys.executable).parent  # flask and gunicorn from the same environment as this Python
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# ---- arguments and the process ----------------------------------------------------------------------

def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser described by the first paragraph of a benchmark's docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def add_database(parser: argparse.ArgumentParser, choices: tuple[str, ...], default: str, pg_help: str = "") -> None:
    """--database (one of `choices`) and --pg-url."""
    parser.add_argument("--database", choices=choices, default=default,
                        help=f"which database(s) to run against (default {default})")
    parser.add_argument("--pg-url", default=PG_URL, help=f"PostgreSQL server (default {PG_URL}){pg_help}")


def add_port(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")


def add_report_only(parser: argparse.ArgumentParser, what: str = "a target is missed") -> None:
    parser.add_argument("--report-only", action="store_true", help=f"exit 0 even if {what}")


def kinds(database: str) -> tuple[str, ...]:
    """The databases a --database choice means ("both": SQLite, then PostgreSQL)."""
    return ("sqlite", "postgresql") if database == "both" else (database,)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that the `finally` blocks (servers, schemas) run on kill too."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# ---- the database -----------------------------------------------------------------------------------

class Database:
    """A throwaway database: its URL for the app, and cleanup."""

    def __init__(self, kind: str, tmp: str, pg_url: str):
        import sqlalchemy as sa

        self.kind = kind
        self._admin = None
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp}/onecode.db"
            self.label = "SQLite (WAL, file in a temporary directory)"
        else:
            self._admin = sa.create_engine(pg_url)
            self.schema = f"onecode_bench_{uuid.uuid4().hex[:10]}"
            with self._admin.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            separator = "&" if "?" in pg_url else "?"
            self.url = (f"{pg_url}{separator}options=-csearch_path%3D{self.schema}"  # as tests/conftest.py
                        f"&application_name={self.schema}")  # to find its backends for the CPU account
            self.label = f"PostgreSQL, schema {self.schema}"

    def backend_pids(self) -> list[int]:
        """PostgreSQL server processes serving this run's connections (none for SQLite)."""
        import sqlalchemy as sa

        if self._admin is None:
            return []
        with self._admin.connect() as connection:
            return list(connection.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                           {"name": self.schema}).scalars())

    def drop(self) -> None:
        import sqlalchemy as sa

        if self._admin is not None:
            with self._admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            self._admin.dispose()


def server_env(database_url: str, tmp: str, public_base_url: str, **extra: str) -> dict:
    """This process's environment with the app's settings for a run: rate limits off, uploads in `tmp`."""
    return {**os.environ, "ONECODE_DATABASE_URL": database_url, "ONECODE_RATELIMIT_ENABLED": "false",
            "ONECODE_UPLOAD_DIR": f"{tmp}/uploads", "ONECODE_PUBLIC_BASE_URL": public_base_url, **extra}


def migrate(env: dict, timeout: float = 120) -> None:
    """`flask --app wsgi db upgrade` on the database of `env`; its error output if it fails."""
    migrated = subprocess.run([VENV_BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    if migrated.returncode != 0:
        raise RuntimeError(f"`flask db upgrade` failed ({migrated.returncode}):\n{migrated.stderr[-3000:]}")


def on_migrated_database(kind: str, pg_url: str, measure):
    """`measure(database, tmp)` on a throwaway database of `kind`, migrated; dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="onecode-bench-") as tmp:
        database = Database(kind, tmp, pg_url)
        try:
            migrate({**os.environ, "ONECODE_DATABASE_URL": database.url, "ONECODE_UPLOAD_DIR": f"{tmp}/uploads"})
            return measure(database, tmp)
        finally:
            database.drop()


# ---- the server -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def gunicorn(command: list, env: dict, log_path: Path) -> subprocess.Popen:
    """Start gunicorn (`command`: its options and the app) in ROOT, its output to `log_path`, in its own
    process group (so that `stop` can kill the workers too)."""
    with open(log_path, "wb") as log:
        return subprocess.Popen([VENV_BIN / "gunicorn", *command], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


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


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()  # gunicorn: graceful shutdown of its workers
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # its own process group (start_new_session)
            server.wait(5)


def log_tail(log_path: Path) -> str:
    return "--- gunicorn log (tail) ---\n" + log_path.read_text(errors="replace")[-3000:]


# ---- client threads ---------------------------------------------------------------------------------

def run_threads(work, threads: int, seconds: float, grace: float) -> tuple[float, list]:
    """Run `work(index, deadline)` in `threads` threads until `seconds` from now; (elapsed, what each
    returned). A thread still running `grace` seconds after the deadline is left (they are daemons)."""
    results = []  # list.append is atomic
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    pool = [threading.Thread(target=lambda i=i: results.append(work(i, deadline)), daemon=True)
            for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + grace)
    return time.monotonic() - started, results


# ---- the machine: robust to a busy machine where wall-clock rates are not -----------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> str:
    return f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"


def reference_loop() -> float:
    """Milliseconds one core takes for a fixed piece of pure Python (best of three). The speed of the
    shared virtual machine this runs on changes over the day, by up to 2x: this number says how fast
    it was during a run, so runs can be compared (lower is faster)."""
    best = float("inf")
    for _ in range(3):
        started, total = time.process_time(), 0
        for n in range(2_000_000):
            total += n
        best = min(best, time.process_time() - started)
    return best * 1000


def cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of one process so far; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def children(pid: int) -> list[int]:
    """A process's children (gunicorn's workers, for its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


class CpuAccount:
    """CPU spent inside the block by gunicorn (master and workers), this run's PostgreSQL backends,
    this process (the clients) and the whole machine. Processes are polled every 0.5 s, so a backend
    that comes and goes (a pool's overflow connection) counts up to its last poll."""

    def __init__(self, server: subprocess.Popen, database: Database):
        self.server, self.database = server, database
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.stopping = threading.Event()

    def poll(self) -> None:
        groups = {"app": [self.server.pid, *children(self.server.pid)], "database": self.database.backend_pids()}
        for group, pids in groups.items():
            for pid in pids:
                cpu = cpu_of(pid)
                if cpu is not None:
                    self.first.setdefault((group, pid), cpu if not self.started else 0.0)
                    self.last[(group, pid)] = cpu

    def __enter__(self):
        self.started = False
        self.poll()
        self.started = True  # processes first seen from now on count from 0
        self.client, self.machine = time.process_time(), machine_busy()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopping.wait(0.5):
            self.poll()

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        self.poll()
        self.totals = {"app": 0.0, "database": 0.0, "client": time.process_time() - self.client,
                       "machine": machine_busy() - self.machine}
        for (group, pid), cpu in self.last.items():
            self.totals[group] += cpu - self.first[(group, pid)]
        return False
