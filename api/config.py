"""Settings: one declared table (`Settings`), parsed once into a frozen object at start.

Every setting is an ONECODE_<NAME> variable. Variables and test overrides go through the same
conversion and checks (healthchecks style): a value that cannot be understood, or an ONECODE_ variable
that is no setting at all (a typo), stops the app at start rather than running with a surprise.
The frozen object is `app.extensions["settings"]`; app.config holds a copy of it for Flask, its
extensions (SECRET_KEY, MAX_CONTENT_LENGTH, RATELIMIT_*) and the code that reads current_app.config.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import current_app
from limits import parse_many

PREFIX = "ONECODE_"
DEFAULT_SECRET_KEY = "dev-only-not-secret-set-ONECODE_SECRET_KEY-in-production"  # noqa: S105 - refused in production, see check()

# ONECODE_* variables read by the tools around the app, never by it: not settings, so neither refused
# nor kept. No setting may be named TEST_... .
TOOL_VARIABLES = frozenset({
    "ONECODE_PASSWORD",  # flask create-account (api.cli)
    "ONECODE_EXTRAS",  # scripts/_venv.sh: the pip extras to install
    "ONECODE_SCREENSHOTS",  # tests/browser: also write the README's screenshots
    "ONECODE_BIND",  # gunicorn.conf.py: where to listen
    "ONECODE_WORKERS",  # gunicorn.conf.py: how many worker processes
})
TOOL_PREFIXES = ("ONECODE_TEST_",)  # the tests' own: ONECODE_TEST_DATABASE_URL, _REDIS_URL, _CHROMIUM

# Settings that no longer exist, with what replaced them: one left in a deployment is refused, not ignored.
REPLACED = {"TRACK_RATE_LIMIT": "ONECODE_QUERY_CODE_RATE_LIMIT (one bucket for every check of a query code)"}

# Options objects for Flask-SQLAlchemy and Flask-Limiter: a test may override them, no variable sets them.
EXTENSION_OPTIONS = frozenset({"SQLALCHEMY_ENGINE_OPTIONS", "RATELIMIT_STORAGE_OPTIONS"})

REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}  # seconds
RATE_LIMIT_STRATEGIES = ("moving-window", "sliding-window-counter", "fixed-window")  # Flask-Limiter's

# Fixed, not settings: flask-smorest's OpenAPI description of this API.
FLASK_CONFIG = {
    "API_TITLE": "onecode (一码) API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    "JSON_SORT_KEYS": False,
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the app refuses to start."""


# --- conversions: a string (a variable) or a value (a test override) in, the setting's value out. ----
# Each raises ValueError("<what it must be>"); load() words it as "ONECODE_X must be <that>, not <raw>".

_BOOLS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLS:
        return _BOOLS[value.strip().lower()]
    raise ValueError("true or false")


def integer(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise ValueError("an integer")


def number(value: object) -> float:
    result = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            pass
    if result is None or not math.isfinite(result):
        raise ValueError("a number")
    return result


def text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("text")


def optional_text(value: object) -> str | None:
    """Unset and empty are the same: the default (None) applies."""
    return None if value is None or value == "" else text(value)


# --- checks of one setting's value; they too raise ValueError("<what it must be>"). -----------------

def at_least(low: float) -> Callable[[float], None]:
    def check(value: float) -> None:
        if value < low:
            raise ValueError(f"{low} or more")
    return check


def one_of(*choices: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if value not in choices:
            raise ValueError("one of " + ", ".join(choices))
    return check


def rate_limit(value: str) -> None:
    try:
        if parse_many(value):
            return
    except ValueError:
        pass
    raise ValueError("a rate limit such as '30 per minute' or '10 per minute;100 per day'")


def http_origin(value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise ValueError("an origin starting with http:// or https://")


def task_queue_url(value: str) -> None:
    if not (value.startswith(("redis://", "rediss://", "unix://", "sqlite:///")) or value == "memory://"):
        raise ValueError("redis://host:6379/0, sqlite:///path/to/tasks.db or memory://")


def penalty_authorities(value: str) -> None:
    """JSON: {"<department>": {"name": "<处罚机关全称>", "uscc": "<its 统一社会信用代码>"}, ...}."""
    import json

    from stdnum.cn import uscc

    from api.models import DEPARTMENTS

    wanted = 'a JSON object {"health": {"name": "...", "uscc": "..."}, ...} naming departments of ' + ", ".join(DEPARTMENTS)
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError(wanted) from None
    if not isinstance(parsed, dict):
        raise ValueError(wanted)
    for department, authority in parsed.items():
        if department not in DEPARTMENTS or not isinstance(authority, dict) or set(authority) - {"name", "uscc"}:
            raise ValueError(wanted)
        if not isinstance(authority.get("name", ""), str) or not isinstance(authority.get("uscc", ""), str):
            raise ValueError(wanted)
        if authority.get("uscc") and not uscc.is_valid(authority["uscc"]):
            raise ValueError(wanted + f" (the uscc of {department} fails its check digit)")


def setting(default: object, parse: Callable[[object], object], check: Callable | None = None):
    """A row of the table: its default, its conversion, and an optional check of the converted value."""
    return field(default=default, metadata={"parse": parse, "check": check})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting (README, Configuration), as ONECODE_<NAME> names it."""

    ENV: str = setting("development", text, one_of("development", "production", "testing"))
    SECRET_KEY: str = setting(DEFAULT_SECRET_KEY, text)
    DATABASE_URL: str | None = setting(None, optional_text)  # None: SQLite file in the instance folder
    PUBLIC_BASE_URL: str = setting("http://127.0.0.1:5000", lambda v: text(v).rstrip("/"), http_origin)
    PASSWORD_HASH_METHOD: str = setting("scrypt", text)  # werkzeug's; tests use a cheaper one to stay fast
    ACCESS_TOKEN_TTL: int = setting(900, integer, at_least(1))  # seconds; refreshed with the refresh token
    REFRESH_TOKEN_TTL: int = setting(30 * 24 * 3600, integer, at_least(1))
    CLIENT_TOKEN_TTL: int = setting(3600, integer, at_least(1))  # seconds; an API client asks again (api.clients)
    # 双公示 (exchange.penalties): each department's full name as 处罚机关 and its 统一社会信用代码, as JSON;
    # a department left out is named by api.models.DEPARTMENTS, without a code. DISCLOSURE_SOURCE is the
    # 数据来源单位 (default: the 处罚机关 itself).
    PENALTY_AUTHORITIES: str | None = setting(None, optional_text, penalty_authorities)
    DISCLOSURE_SOURCE: str | None = setting(None, optional_text)
    JWT_ISSUER: str = setting("onecode", text)
    JWT_AUDIENCE: str = setting("onecode-api", text)
    WECHAT_APPID: str | None = setting(None, optional_text)
    WECHAT_SECRET: str | None = setting(None, optional_text)
    WECHAT_API_BASE: str = setting("https://api.weixin.qq.com", text)
    WECHAT_PAGE: str = setting("pages/scan/index", text)  # the mini-program page a code opens, scene = token
    WECHAT_ENV_VERSION: str = setting("release", text, one_of("release", "trial", "develop"))
    RATELIMIT_ENABLED: bool = setting(True, boolean)
    RATELIMIT_STORAGE_URI: str = setting("memory://", text)
    RATELIMIT_KEY_PREFIX: str = setting("", text)  # several deployments (or test runs) sharing one Redis
    RATELIMIT_HEADERS_ENABLED: bool = setting(True, boolean)
    # Counts the last minute (day) from each request, not calendar minutes: a fixed window lets a
    # script send twice the limit across a minute boundary.
    RATELIMIT_STRATEGY: str = setting("moving-window", text, one_of(*RATE_LIMIT_STRATEGIES))
    # Redis down must not stop a complaint or a login: each process then counts in its own memory
    # (checking Redis again every few seconds), and an error inside the limiter is logged, not answered.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED: bool = setting(True, boolean)
    RATELIMIT_SWALLOW_ERRORS: bool = setting(True, boolean)
    LOGIN_RATE_LIMIT: str = setting("10 per minute", text, rate_limit)
    # Per client address. Patients behind one carrier NAT share an address, so these are generous
    # enough for a waiting room and tight enough to stop a script.
    COMPLAINT_RATE_LIMIT: str = setting("10 per minute;100 per day", text, rate_limit)
    # Every check of a complaint's query code (API and H5 tracking, rating, uploads) draws on this one
    # bucket per address: it bounds the guesses at a code, whichever endpoints a script spreads them over.
    # Open311 posts (exchange.open311_routes), per API key: one key speaks for a whole app's users.
    OPEN311_RATE_LIMIT: str = setting("60 per minute;2000 per day", text, rate_limit)
    QUERY_CODE_RATE_LIMIT: str = setting("30 per minute", text, rate_limit)
    UPLOAD_RATE_LIMIT: str = setting("30 per minute", text, rate_limit)  # besides the query-code bucket
    UPLOAD_DIR: str | None = setting(None, optional_text)  # None: instance/uploads
    SIGNING_KEY_FILE: str | None = setting(None, optional_text)  # reserved
    # A year's holiday schedule from the State Council's notice, for years chinese-calendar does not
    # ship yet (api.workdays.load_schedule has the format). None: chinese-calendar alone.
    HOLIDAY_SCHEDULE: str | None = setting(None, optional_text)
    # A folder of policy versions (*.toml, api.policy has the format) replacing the packaged api/policies.
    POLICY_DIR: str | None = setting(None, optional_text)
    SCAN_COUNT_FLUSH_SECONDS: float = setting(10.0, number, at_least(0))  # buffered per process, one write
    MAX_CONTENT_LENGTH: int = setting(12 * 1024 * 1024, integer, at_least(1))
    TRUSTED_PROXIES: int = setting(0, integer, at_least(0))  # reverse proxies in front (X-Forwarded-For hops)
    # Where jobs wait for the consumer (api.queue): None is a SQLite file in the instance folder (web and
    # worker on one machine); production: redis://host:6379/0; memory:// runs each job inside the request.
    TASK_QUEUE_URL: str | None = setting(None, optional_text, task_queue_url)
    TASK_QUEUE_NAME: str = setting("onecode", text)  # the queue's name in its store: deployments sharing one Redis


SETTINGS = {f.name: f for f in dataclasses.fields(Settings)}


def settings() -> Settings:
    """The current app's settings."""
    return current_app.extensions["settings"]


def load(app, overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Parse ONECODE_* variables, then test overrides (same conversion), into the app's one Settings."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for key, value in environ.items():
        if key.startswith(PREFIX) and key not in TOOL_VARIABLES and not key.startswith(TOOL_PREFIXES):
            raw[_known(key[len(PREFIX):], PREFIX)] = value
    options = {}
    for name, value in (overrides or {}).items():
        if name in EXTENSION_OPTIONS:
            options[name] = value
        else:
            raw[_known(name, "")] = value
    values = {name: _parse(name, value) for name, value in raw.items()}
    values.setdefault("DATABASE_URL", None)
    values.setdefault("UPLOAD_DIR", None)
    values["DATABASE_URL"] = values["DATABASE_URL"] or "sqlite:///" + os.path.join(app.instance_path, "onecode.db")
    values["UPLOAD_DIR"] = values["UPLOAD_DIR"] or os.path.join(app.instance_path, "uploads")
    result = Settings(**values)
    check(result)

    app.extensions["settings"] = result
    app.config.from_mapping(FLASK_CONFIG)
    app.config.from_mapping(dataclasses.asdict(result))
    app.config["SQLALCHEMY_DATABASE_URI"] = result.DATABASE_URL
    # Closed connections are caught at checkout without a round trip (api.database); recycling after
    # 30 minutes covers those dropped silently on the way (a firewall's idle timeout).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_recycle": 1800}
    if result.RATELIMIT_STORAGE_URI.startswith(("redis://", "rediss://", "redis+")):
        # redis-py waits 5 s per try by default: a hung Redis would hold every limited request that
        # long before the in-memory fallback takes over. It answers in well under a millisecond.
        app.config["RATELIMIT_STORAGE_OPTIONS"] = REDIS_TIMEOUTS
    app.config.update(options)
    return result


def _known(name: str, prefix: str) -> str:
    """The name of a setting, or ConfigError naming the closest one."""
    if name in SETTINGS:
        return name
    if name in REPLACED:
        raise ConfigError(f"{PREFIX}{name} is no longer used: set {REPLACED[name]}")
    close = difflib.get_close_matches(name, SETTINGS, n=1)
    if close:
        raise ConfigError(f"{prefix}{name}: unknown setting; did you mean {prefix}{close[0]}?")
    raise ConfigError(f"{prefix}{name}: unknown setting (the README's Configuration section lists them)")


def _parse(name: str, value: object) -> object:
    metadata = SETTINGS[name].metadata
    try:
        result = metadata["parse"](value)
        if metadata["check"] is not None and result is not None:
            metadata["check"](result)
    except ValueError as error:
        raise ConfigError(f"{PREFIX}{name} must be {error}, not {value!r}") from None
    return result


def check(settings: Settings) -> None:
    """Refuse combinations of settings that would be unsafe (each one alone is checked by its row)."""
    if settings.ENV == "production":
        if settings.SECRET_KEY == DEFAULT_SECRET_KEY or len(settings.SECRET_KEY) < 32:
            raise ConfigError("In production ONECODE_SECRET_KEY must be set to a random value of 32+ characters")
        if not settings.PUBLIC_BASE_URL.startswith("https://"):
            raise ConfigError("In production ONECODE_PUBLIC_BASE_URL must be an https:// origin")
