"""The composition root: create_app() builds the app from every package's blueprints and CLI commands.

Only the entry points import this (wsgi.py, tests/conftest.py, bench/); it sits outside the layers
(docs/architecture.md), which is why it may import every package, and no package imports it."""

from __future__ import annotations

import atexit
import logging
import os

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

import api.cli
import complaints.routes
import directory.routes
import exchange.open311_routes
import exchange.routes
import onecode.cli
import oversight.dashboard
import oversight.routes
import public.cli
import public.h5
import public.routes
import selfcheck.cli
import selfcheck.routes
import supervision.cli
import supervision.routes
from api import auth, change_routes, client_routes, config, extensions, job_routes, policy, queue, workdays
from api import routes as core
from api.request import Request
from onecode import tasks
from public.scans import ScanCounter
from registry.models import CATEGORIES
from supervision import credit, violations

BLUEPRINTS = (core.health, core.blp, core.policies, client_routes.blp, job_routes.blp, change_routes.blp, directory.routes.blp, public.routes.blp, public.routes.disclosure_blp, public.h5.h5,
              public.h5.h5_track,
              complaints.routes.blp, selfcheck.routes.blp, supervision.routes.blp, exchange.routes.blp,
              exchange.open311_routes.blp, oversight.routes.blp,
              oversight.dashboard.blp)
COMMANDS = (*api.cli.COMMANDS, *onecode.cli.COMMANDS, *public.cli.COMMANDS, *selfcheck.cli.COMMANDS,
            *supervision.cli.COMMANDS)
# What the jobs (api.jobs) of each kind run: the packages' own functions, named by their routes.
JOB_RUNNERS = {**directory.routes.JOBS, **complaints.routes.JOBS, **selfcheck.routes.JOBS, **supervision.routes.JOBS}


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; `test_config` overrides settings (tests) after ONECODE_* variables, both
    converted and checked alike (api.config)."""
    app = Flask("api", instance_relative_config=True)  # its name, logger and root path as before the move
    app.request_class = Request  # a chunked body over MAX_CONTENT_LENGTH is 413 (api.request)
    settings = config.load(app, test_config)  # parsed once, strictly (api.config)
    if settings.HOLIDAY_SCHEDULE:  # a malformed schedule stops the app here, as any bad setting does
        schedule = workdays.load_schedule(settings.HOLIDAY_SCHEDULE)
        app.extensions["work_calendar"] = workdays.WorkCalendar(schedule)
    app.extensions["policy"] = _policy_book(settings.POLICY_DIR)  # a doubtful policy file stops the app too
    app.session_interface = NoCookieSessions()
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.TRUSTED_PROXIES:
        hops = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    smorest = extensions.init_app(app)
    app.after_request(auth.log_client_call)  # every call made with an API client's token names the client
    for blueprint in BLUEPRINTS:
        smorest.register_blueprint(blueprint)
    for command in COMMANDS:
        app.cli.add_command(command)

    queue.init_app(app, runners=JOB_RUNNERS, daily=tasks.DAILY)
    app.extensions[change_routes.CATCH_UP] = _catch_up_credit
    counter = ScanCounter(settings.SCAN_COUNT_FLUSH_SECONDS)
    app.extensions["scan_counter"] = counter
    atexit.register(_flush_on_exit, app, counter)
    _make_instance_folder(app)
    return app


def _catch_up_credit(session) -> None:
    """Before the changes feed is read: recompute the credit snapshots that went stale with time or
    below supervision (api.change_routes), so their changes are in the feed now, not after 01:00."""
    credit.refresh_stale(session=session)


def _policy_book(folder: str | None) -> policy.PolicyBook:
    """The policy versions, checked against the names the packages define (categories, rule codes)."""
    book = policy.load(folder)
    book.check_names(categories=CATEGORIES, rule_codes=violations.rules())
    return book


class NoCookieSessions(SessionInterface):
    """Nothing here uses Flask's cookie session (the API takes bearer tokens, the H5 form a signed
    nonce), so no request builds its signer or sets a cookie; writing to `session` raises."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


def _flush_on_exit(app: Flask, counter) -> None:
    with app.app_context():
        counter.flush(extensions.db.engine)


def _make_instance_folder(app: Flask) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
