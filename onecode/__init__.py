"""The application: create_app(), settings, extensions, auth, errors, CLI."""

from __future__ import annotations

import atexit
import logging

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from api import cli, config, extensions, workdays
from api.request import Request


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; `test_config` overrides settings (tests) after ONECODE_* variables, both
    converted and checked alike (api.config)."""
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = Request  # a chunked body over MAX_CONTENT_LENGTH is 413 (api.request)
    settings = config.load(app, test_config)  # parsed once, strictly (api.config)
    if settings.HOLIDAY_SCHEDULE:  # a malformed schedule stops the app here, as any bad setting does
        schedule = workdays.load_schedule(settings.HOLIDAY_SCHEDULE)
        app.extensions["work_calendar"] = workdays.WorkCalendar(schedule)
    app.session_interface = NoCookieSessions()
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.TRUSTED_PROXIES:
        hops = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    api = extensions.init_app(app)
    from api import routes as core
    from codes.cache import ProfileCache
    from codes.h5 import h5, h5_track
    from codes.routes import blp as codes_blp
    from codes.scans import ScanCounter
    from complaints import blp as complaints_blp
    from registry import blp as registry_blp
    from selfcheck import blp as selfcheck_blp
    from supervision import blp as supervision_blp

    blueprints = (core.health, core.blp, registry_blp, codes_blp, h5, h5_track, complaints_blp, selfcheck_blp, supervision_blp)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    cli.init_app(app)

    app.extensions["profile_cache"] = ProfileCache(settings.SCAN_CACHE_SECONDS)
    counter = ScanCounter(settings.SCAN_COUNT_FLUSH_SECONDS)
    app.extensions["scan_counter"] = counter
    atexit.register(_flush_on_exit, app, counter)
    _make_instance_folder(app)
    return app


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
    import os

    os.makedirs(app.instance_path, exist_ok=True)
