"""Settings: safe development defaults, overridden by ONECODE_* environment variables.

Parsing is strict (healthchecks style): a setting that cannot be understood stops the app at start,
rather than running with a surprise.
"""

from __future__ import annotations

import os

from limits import parse_many

DEFAULT_SECRET_KEY = "dev-only-not-secret-set-ONECODE_SECRET_KEY-in-production"  # noqa: S105 - refused in production, see check()


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the app refuses to start."""


DEFAULTS: dict[str, object] = {
    "ENV": "development",
    "SECRET_KEY": DEFAULT_SECRET_KEY,
    "DATABASE_URL": None,  # None: SQLite file in the instance folder
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "PASSWORD_HASH_METHOD": "scrypt",  # werkzeug's; tests use a cheaper one to stay fast
    "ACCESS_TOKEN_TTL": 900,  # seconds; short-lived, refreshed with the refresh token
    "REFRESH_TOKEN_TTL": 30 * 24 * 3600,
    "JWT_ISSUER": "onecode",
    "JWT_AUDIENCE": "onecode-api",
    "WECHAT_APPID": None,
    "WECHAT_SECRET": None,
    "WECHAT_API_BASE": "https://api.weixin.qq.com",
    "WECHAT_PAGE": "pages/scan/index",  # the mini-program page a mini-program code opens, with scene = token
    "WECHAT_ENV_VERSION": "release",  # release | trial | develop
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Counts the last minute (day) from each request, not calendar minutes: a fixed window lets a
    # script send twice the limit across a minute boundary.
    "RATELIMIT_STRATEGY": "moving-window",
    # Redis down must not stop a complaint or a login: each process then counts in its own memory
    # (checking Redis again every few seconds), and an error inside the limiter is logged, not answered.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "LOGIN_RATE_LIMIT": "10 per minute",
    # Per client address. Patients behind one carrier NAT share an address, so these are generous
    # enough for a waiting room and tight enough to stop a script.
    "COMPLAINT_RATE_LIMIT": "10 per minute;100 per day",
    # Every check of a complaint's query code (API and H5 tracking, rating, uploads) draws on this one
    # bucket per address: it bounds the guesses at a code, whichever endpoints a script spreads them over.
    "QUERY_CODE_RATE_LIMIT": "30 per minute",
    "UPLOAD_RATE_LIMIT": "30 per minute",  # uploads, besides the query-code bucket: storage and cleaning
    "UPLOAD_DIR": None,  # None: instance/uploads
    "SIGNING_KEY_FILE": None,
    # A year's holiday schedule from the State Council's notice, for years chinese-calendar does not
    # ship yet (api.workdays.load_schedule has the format). None: chinese-calendar alone.
    "HOLIDAY_SCHEDULE": None,
    "SCAN_COUNT_FLUSH_SECONDS": 10.0,  # scan counters are buffered per process, then added in one write
    "SCAN_CACHE_SECONDS": 5.0,  # scan answers are reused for this long per process (0: off)
    "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
    "TRUSTED_PROXIES": 0,  # reverse proxies in front (X-Forwarded-For hops to trust)
    # flask-smorest / OpenAPI
    "API_TITLE": "onecode (一码) API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
    "JSON_SORT_KEYS": False,
}

REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}  # seconds
RATE_LIMIT_STRATEGIES = ("moving-window", "sliding-window-counter", "fixed-window")  # Flask-Limiter's

RATE_LIMITS = ("LOGIN_RATE_LIMIT", "COMPLAINT_RATE_LIMIT", "QUERY_CODE_RATE_LIMIT", "UPLOAD_RATE_LIMIT")
# Settings that no longer exist, with what replaced them: one left in a deployment is refused, not ignored.
REPLACED = {"TRACK_RATE_LIMIT": "ONECODE_QUERY_CODE_RATE_LIMIT (one bucket for every check of a query code)"}

_BOOLS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _coerce(name: str, default: object, value: object) -> object:
    """Coerce an environment string to the type of its default."""
    if not isinstance(value, str):
        return value
    if isinstance(default, bool):
        try:
            return _BOOLS[value.strip().lower()]
        except KeyError:
            raise ConfigError(f"ONECODE_{name} must be true or false, not {value!r}") from None
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"ONECODE_{name} must be an integer, not {value!r}") from None
    if isinstance(default, float):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"ONECODE_{name} must be a number, not {value!r}") from None
    return value


def load(app, overrides: dict | None) -> None:
    """Fill app.config from defaults, then ONECODE_* variables, then explicit overrides (tests)."""
    app.config.from_mapping(DEFAULTS)
    prefix = "ONECODE_"
    for key, value in os.environ.items():
        if key.startswith(prefix):
            name = key[len(prefix):]
            app.config[name] = _coerce(name, DEFAULTS.get(name), value)
    if overrides:
        app.config.update(overrides)

    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "onecode.db")
    if not app.config["UPLOAD_DIR"]:
        app.config["UPLOAD_DIR"] = os.path.join(app.instance_path, "uploads")
    if str(app.config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://", "redis+")):
        # redis-py waits 5 s per try by default: a hung Redis would hold every limited request that
        # long before the in-memory fallback takes over. It answers in well under a millisecond.
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", REDIS_TIMEOUTS)
    app.config["PUBLIC_BASE_URL"] = str(app.config["PUBLIC_BASE_URL"]).rstrip("/")
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    # Closed connections are caught at checkout without a round trip (api.database); recycling after
    # 30 minutes covers those dropped silently on the way (a firewall's idle timeout).
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_recycle": 1800})
    check(app.config)


def check(config) -> None:
    """Refuse settings that would be unsafe or unusable."""
    if config["ENV"] not in ("development", "production", "testing"):
        raise ConfigError("ONECODE_ENV must be development, production or testing")
    if config["ENV"] == "production":
        if config["SECRET_KEY"] == DEFAULT_SECRET_KEY or len(str(config["SECRET_KEY"])) < 32:
            raise ConfigError("In production ONECODE_SECRET_KEY must be set to a random value of 32+ characters")
        if not str(config["PUBLIC_BASE_URL"]).startswith("https://"):
            raise ConfigError("In production ONECODE_PUBLIC_BASE_URL must be an https:// origin")
    if not str(config["PUBLIC_BASE_URL"]).startswith(("http://", "https://")):
        raise ConfigError("ONECODE_PUBLIC_BASE_URL must start with http:// or https://")
    if config["RATELIMIT_STRATEGY"] not in RATE_LIMIT_STRATEGIES:
        raise ConfigError("ONECODE_RATELIMIT_STRATEGY must be one of " + ", ".join(RATE_LIMIT_STRATEGIES))
    for name, successor in REPLACED.items():
        if name in config:
            raise ConfigError(f"ONECODE_{name} is no longer used: set {successor}")
    for name in RATE_LIMITS:
        try:
            if not parse_many(str(config[name])):
                raise ValueError(name)
        except ValueError:
            raise ConfigError(f"ONECODE_{name} must be a rate limit such as '30 per minute' or "
                              f"'10 per minute;100 per day', not {config[name]!r}") from None
    if int(config["ACCESS_TOKEN_TTL"]) <= 0 or int(config["REFRESH_TOKEN_TTL"]) <= 0:
        raise ConfigError("token lifetimes must be positive")
