"""Settings are parsed strictly: a setting that cannot be understood stops the app at start."""

from __future__ import annotations

import pytest

from api.config import DEFAULT_SECRET_KEY, ConfigError
from onecode import create_app

GOOD_SECRET = "a-production-secret-of-more-than-32-characters"


def _production(**overrides):
    return {"ENV": "production", "SECRET_KEY": GOOD_SECRET, "PUBLIC_BASE_URL": "https://code.example.org",
            "DATABASE_URL": "sqlite://", **overrides}


def test_a_production_app_starts_with_a_real_secret_and_an_https_origin(make_app):
    app = make_app(**_production())

    assert app.config["ENV"] == "production"


def test_production_refuses_the_default_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(_production(SECRET_KEY=DEFAULT_SECRET_KEY))


def test_production_refuses_a_short_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(_production(SECRET_KEY="short-but-not-default"))


def test_production_refuses_a_plain_http_public_origin():
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app(_production(PUBLIC_BASE_URL="http://code.example.org"))


def test_production_refuses_the_default_secret_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("ONECODE_ENV", "production")
    monkeypatch.setenv("ONECODE_PUBLIC_BASE_URL", "https://code.example.org")
    monkeypatch.delenv("ONECODE_SECRET_KEY", raising=False)

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_an_unknown_environment_name_is_refused():
    with pytest.raises(ConfigError, match="ENV"):
        create_app({"ENV": "staging", "DATABASE_URL": "sqlite://"})


def test_a_malformed_boolean_variable_is_refused(monkeypatch):
    monkeypatch.setenv("ONECODE_RATELIMIT_ENABLED", "maybe")

    with pytest.raises(ConfigError, match="ONECODE_RATELIMIT_ENABLED"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://"})


def test_a_malformed_integer_variable_is_refused(monkeypatch):
    monkeypatch.setenv("ONECODE_ACCESS_TOKEN_TTL", "fifteen minutes")

    with pytest.raises(ConfigError, match="ONECODE_ACCESS_TOKEN_TTL"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://"})


def test_a_malformed_number_variable_is_refused(monkeypatch):
    monkeypatch.setenv("ONECODE_SCAN_COUNT_FLUSH_SECONDS", "a few")

    with pytest.raises(ConfigError, match="ONECODE_SCAN_COUNT_FLUSH_SECONDS"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://"})


@pytest.mark.parametrize(("raw", "value"), [("off", False), ("No", False), ("0", False),
                                            ("on", True), ("TRUE", True), (" yes ", True)])
def test_boolean_variables_accept_the_usual_spellings(make_app, monkeypatch, raw, value):
    monkeypatch.setenv("ONECODE_RATELIMIT_HEADERS_ENABLED", raw)

    app = make_app()

    assert app.config["RATELIMIT_HEADERS_ENABLED"] is value


def test_integer_variables_are_read_as_integers(make_app, monkeypatch):
    monkeypatch.setenv("ONECODE_REFRESH_TOKEN_TTL", "3600")

    app = make_app()

    assert app.config["REFRESH_TOKEN_TTL"] == 3600


def test_a_non_positive_token_lifetime_is_refused():
    with pytest.raises(ConfigError):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://", "ACCESS_TOKEN_TTL": 0})


def test_an_unknown_rate_limit_strategy_is_refused(monkeypatch):
    monkeypatch.setenv("ONECODE_RATELIMIT_STRATEGY", "leaky-bucket")

    with pytest.raises(ConfigError, match="ONECODE_RATELIMIT_STRATEGY"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://"})


def test_a_redis_rate_limit_storage_gets_short_socket_timeouts(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")  # never connected to

    with app.app_context():
        from api.extensions import limiter

        connection = limiter.storage.storage.connection_pool.connection_kwargs
    assert connection["socket_connect_timeout"] <= 1
    assert connection["socket_timeout"] <= 1


def test_a_public_base_url_without_a_scheme_is_refused():
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://", "PUBLIC_BASE_URL": "code.example.org"})


@pytest.mark.parametrize("name", ["QUERY_CODE_RATE_LIMIT", "COMPLAINT_RATE_LIMIT", "LOGIN_RATE_LIMIT",
                                  "UPLOAD_RATE_LIMIT"])
def test_a_malformed_rate_limit_is_refused(monkeypatch, name):
    monkeypatch.setenv(f"ONECODE_{name}", "thirty a minute")

    with pytest.raises(ConfigError, match=f"ONECODE_{name}"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://"})


def test_the_replaced_tracking_limit_is_refused_with_the_name_of_its_successor(monkeypatch):
    """ONECODE_TRACK_RATE_LIMIT no longer limits anything: one left in a deployment's settings must not
    be silently ignored by an operator who thinks it still slows guessing."""
    monkeypatch.setenv("ONECODE_TRACK_RATE_LIMIT", "10 per minute")

    with pytest.raises(ConfigError, match="ONECODE_QUERY_CODE_RATE_LIMIT"):
        create_app({"ENV": "testing", "DATABASE_URL": "sqlite://"})


# --- one declared table, parsed once (issue 16) ----------------------------------------------------

TESTING = {"ENV": "testing", "DATABASE_URL": "sqlite://"}


def test_a_misspelt_variable_is_refused_with_the_closest_setting(monkeypatch):
    """A typo used to be accepted silently and the intended setting kept its default."""
    monkeypatch.setenv("ONECODE_SCAN_COUNT_FLUSH_SECOND", "abc")

    with pytest.raises(ConfigError, match=r"^ONECODE_SCAN_COUNT_FLUSH_SECOND: unknown setting; "
                                          r"did you mean ONECODE_SCAN_COUNT_FLUSH_SECONDS\?$"):
        create_app(TESTING)


def test_an_unknown_variable_far_from_any_setting_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("ONECODE_ZZZ", "1")

    with pytest.raises(ConfigError, match="^ONECODE_ZZZ: unknown setting"):
        create_app(TESTING)


def test_the_tools_own_variables_are_not_settings(make_app, monkeypatch):
    """The CLI's password, the scripts' extras and the tests' own variables share the prefix: they
    neither stop the app nor end up among its settings."""
    for name in ("ONECODE_PASSWORD", "ONECODE_EXTRAS", "ONECODE_SCREENSHOTS", "ONECODE_TEST_CHROMIUM"):
        monkeypatch.setenv(name, "1")

    app = make_app()

    assert not {"PASSWORD", "EXTRAS", "SCREENSHOTS", "TEST_CHROMIUM"} & set(app.config)


def test_a_misspelt_test_override_is_refused_with_the_closest_setting():
    with pytest.raises(ConfigError, match=r"^SCAN_COUNT_FLUSH_SECOND: unknown setting; did you mean SCAN_COUNT_FLUSH_SECONDS\?$"):
        create_app({**TESTING, "SCAN_COUNT_FLUSH_SECOND": 5})


@pytest.mark.parametrize(("name", "raw", "value"), [("ACCESS_TOKEN_TTL", "5", 5), ("SCAN_COUNT_FLUSH_SECONDS", "2.5", 2.5),
                                                    ("SCAN_COUNT_FLUSH_SECONDS", 3, 3.0),
                                                    ("RATELIMIT_HEADERS_ENABLED", "off", False),
                                                    ("PUBLIC_BASE_URL", "https://code.example.org/", "https://code.example.org")])
def test_a_test_override_goes_through_the_conversion_of_a_variable(make_app, name, raw, value):
    app = make_app(**{name: raw})

    assert getattr(app.extensions["settings"], name) == value
    assert type(getattr(app.extensions["settings"], name)) is type(value)
    assert app.config[name] == value  # the copy Flask and the extensions read


@pytest.mark.parametrize(("name", "raw"), [("ACCESS_TOKEN_TTL", "abc"), ("SCAN_COUNT_FLUSH_SECONDS", "abc"),
                                           ("MAX_CONTENT_LENGTH", 1.5), ("RATELIMIT_ENABLED", "maybe"),
                                           ("TRUSTED_PROXIES", True)])
def test_a_malformed_test_override_is_refused_as_a_variable_would_be(name, raw):
    with pytest.raises(ConfigError, match=f"^ONECODE_{name} must be"):
        create_app({**TESTING, name: raw})


@pytest.mark.parametrize(("name", "raw"), [("TRUSTED_PROXIES", "-1"), ("SCAN_COUNT_FLUSH_SECONDS", "-5"),
                                           ("SCAN_COUNT_FLUSH_SECONDS", "nan"), ("SCAN_COUNT_FLUSH_SECONDS", "inf"),
                                           ("MAX_CONTENT_LENGTH", "0"), ("REFRESH_TOKEN_TTL", "-3600")])
def test_an_out_of_range_number_is_refused(monkeypatch, name, raw):
    monkeypatch.setenv(f"ONECODE_{name}", raw)

    with pytest.raises(ConfigError, match=f"^ONECODE_{name} must be"):
        create_app(TESTING)


def test_the_settings_are_parsed_once_into_a_frozen_object(make_app):
    import dataclasses

    settings = make_app(SCAN_COUNT_FLUSH_SECONDS="1").extensions["settings"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.SCAN_COUNT_FLUSH_SECONDS = 2.0


def test_the_readme_lists_every_setting_and_nothing_else():
    import pathlib
    import re

    from api.config import SETTINGS

    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = {name for row in section.splitlines() if row.startswith("| `")
              for name in re.findall(r"`([A-Z0-9_]+)`", row.split(" | ")[0])}
    assert listed == set(SETTINGS)
