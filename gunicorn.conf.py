"""gunicorn's settings for onecode in production: `gunicorn -c gunicorn.conf.py wsgi:app`.

Plain Python that gunicorn runs once, in the master, before it loads the app. Every value can still be
changed without editing this file: gunicorn's own command-line options and GUNICORN_CMD_ARGS win over
it (`GUNICORN_CMD_ARGS="--timeout 120"`), and the few variables below are read here. The reasons
for each value are in docs/decisions.md ("Production server and a leaner intake (issue 19)").

Variables (none is an app setting; api.config leaves them alone):
    ONECODE_BIND      where to listen (default 0.0.0.0:8000; a comma-separated list for several)
    ONECODE_WORKERS   how many worker processes (default 2 × CPUs + 1); WEB_CONCURRENCY is read too
"""

from __future__ import annotations

import multiprocessing
import os


def cpu_count() -> int:
    """The CPUs this process may run on: a container's cpuset when it has one (sched_getaffinity),
    else multiprocessing.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0)) or multiprocessing.cpu_count()
    except (AttributeError, OSError):  # not Linux
        return multiprocessing.cpu_count()


def worker_count(environ=os.environ) -> int:
    """ONECODE_WORKERS, else WEB_CONCURRENCY (the name platforms set), else 2 × CPUs + 1: a sync
    worker is idle while PostgreSQL answers each statement, so about two per core keep the cores busy
    (docs/benchmarks.md)."""
    for name in ("ONECODE_WORKERS", "WEB_CONCURRENCY"):
        value = environ.get(name, "").strip()
        if value:
            workers = int(value)  # not a number: gunicorn stops at start, naming this file
            if workers < 1:
                raise ValueError(f"{name} must be 1 or more, not {value!r}")
            return workers
    return 2 * cpu_count() + 1


bind = [address.strip() for address in os.environ.get("ONECODE_BIND", "0.0.0.0:8000").split(",") if address.strip()]
workers = worker_count()
worker_class = "sync"  # one request at a time per process; the app and its database pool are built for it

# A request that takes longer than this is a bug or a stuck database: the master kills the worker (its
# transaction rolls back) and starts another. Long work (imports, exports, reports) runs in the task
# queue, so 30 s is far above any request the API serves (an intake takes milliseconds).
timeout = 30
# SIGTERM (a deploy, `systemctl stop`, the orchestrator): stop accepting, let each worker finish the
# request it is serving, for at most this long; then SIGKILL.
graceful_timeout = 30
# Seconds an idle keep-alive connection is held. Sync workers close every connection after the answer
# (the load balancer in front keeps the clients' connections), so this applies only if worker_class is
# changed to gthread; shorter than a typical balancer's idle timeout (60 s), so the server closes first.
keepalive = 5

# Each worker is replaced after this many requests (plus up to the jitter, so that the workers do not all
# restart at once): it bounds slow memory growth. A replacement is a fork of the preloaded master, a few
# milliseconds, but it opens new database connections and starts its caches cold (the complaint
# categories, a block of tracking numbers), so not too often: at 100 requests/s per worker, every
# 1.5–2 minutes.
max_requests = 10000
max_requests_jitter = 1000

# Load the app once in the master and fork the workers from it: importing it takes ~2 s of CPU (it
# hashes a dummy password with scrypt, reads the policy files and the calendar), which every worker and
# every replacement would otherwise pay, and the workers share the pages nobody writes. Nothing
# process-bound is created by loading: the app opens no database connection until a request needs one,
# and post_fork() below drops any connection pool a worker inherits anyway. The price: `kill -HUP` does
# not load new code into the master; a release restarts the master (or upgrades it with USR2).
preload_app = True

# Heartbeat files in memory, not on a disk that may stall under load (containers: /tmp is overlayfs).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Logs to stdout/stderr, for the service manager to collect. One access line per request, with the time
# it took. The query string is left out (%(U)s is the path alone; %(r)s would be the whole request line):
# GET /api/v1/complaints/track?tracking_no=…&query_code=… and /track?… carry a complaint's secret query
# code. No Referer either (it can be such a URL), no client address, no user agent: a line saying who
# posted a complaint at what second would undo an anonymous complaint (the balancer in front logs
# addresses, under its own retention).
accesslog = "-"
errorlog = "-"
loglevel = "info"
# The last field names the API client that called (`client:<id>`, set by api.auth in the WSGI environ),
# "-" for everyone else: a machine's calls are attributable; a person's stay unnamed, as above.
access_log_format = '%(t)s %(p)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)sus %({onecode.caller}e)s'

# X-Forwarded-For/-Proto/-Host are trusted by the app itself (ONECODE_TRUSTED_PROXIES: ProxyFix counts
# the proxies in front), one setting for both. gunicorn's own forwarded_allow_ips stays at its default
# (127.0.0.1, or the FORWARDED_ALLOW_IPS variable): do not set it to "*", or any client could claim https.


def post_fork(server, worker):
    """In each new worker, before its first request: forget any database connection the master's pools
    hold (a socket shared by two processes mixes their conversations). dispose(close=False) leaves the
    master's own connections open for it; the worker opens its own on first use."""
    if not server.cfg.preload_app:
        return
    from api.database import db  # the master has imported the app already (preload_app)

    app = server.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
