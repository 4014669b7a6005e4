"""Test fixtures: a migrated database per run, a clean one per test, and personas.

SQLite (default): migrations run once into a template file, copied for every test.
PostgreSQL (ONECODE_TEST_DATABASE_URL): migrations run once into a fresh schema for this run; every
table is truncated after each test; the schema is dropped at the end. With CI=true an unreachable
PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import time
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from api.database import db
from onecode import create_app

PG_URL = os.environ.get("ONECODE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("ONECODE_TEST_REDIS_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"

BASE_CONFIG = {
    "ENV": "testing",
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "PUBLIC_BASE_URL": "https://code.example.org",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "RATELIMIT_ENABLED": False,
    "SCAN_COUNT_FLUSH_SECONDS": 3600.0,
    "TASK_QUEUE_URL": "memory://",  # jobs run inside the request that starts them; tests/jobs runs a consumer too
}


def _pg_schema_url(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    # The schema's name is also the connections' application_name: tests/locks.py watches only them.
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}&application_name={schema}"


MIDNIGHT_MARGIN = dt.timedelta(seconds=60)


@pytest.fixture(autouse=True)
def _not_across_beijing_midnight():
    """Many tests work out "today" (Beijing) and the service works it out again a moment later; a test
    that starts in the last minute before midnight in Beijing (16:00 UTC) waits until the new day."""
    from api.database import SHANGHAI

    now = dt.datetime.now(SHANGHAI)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)
    if midnight - now < MIDNIGHT_MARGIN:
        time.sleep((midnight - now).total_seconds() + 0.5)


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """A migrated database for this run: yields a function that gives each test its own URL."""
    if PG_URL:
        engine = sa.create_engine(PG_URL)
        try:
            with engine.connect():
                pass
        except sa.exc.OperationalError as error:
            engine.dispose()
            if IN_CI:
                pytest.exit(f"PostgreSQL at ONECODE_TEST_DATABASE_URL is unreachable: {error}", returncode=3)
            pytest.skip("PostgreSQL unreachable")
        schema = f"onecode_test_{uuid.uuid4().hex[:10]}"
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = _pg_schema_url(schema)
        app = create_app({**BASE_CONFIG, "DATABASE_URL": url})
        with app.app_context():
            upgrade()
            names = ", ".join(f'"{schema}"."{t.name}"' for t in db.metadata.sorted_tables
                              if not t.info.get("reference"))  # seeded by migrations: kept
            db.engine.dispose()

        def truncate():
            with engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

        yield {"url": lambda tmp_path: url, "clean": truncate}
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
    else:
        folder = tmp_path_factory.mktemp("db")
        template = folder / "template.db"
        app = create_app({**BASE_CONFIG, "DATABASE_URL": f"sqlite:///{template}"})
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db.engine.dispose()

        def fresh_copy(tmp_path):
            target = tmp_path / "onecode.db"
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"

        yield {"url": fresh_copy, "clean": lambda: None}


@pytest.fixture
def make_app(database, tmp_path):
    """Build an app on this test's clean database; extra settings override the test defaults."""
    url = database["url"](tmp_path)
    apps = []

    def factory(**overrides):
        app = create_app({**BASE_CONFIG, "DATABASE_URL": url, "UPLOAD_DIR": str(tmp_path / "uploads"),
                          **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            app.extensions["scan_counter"].flush(db.engine)  # not at exit, when this database is gone
            db.session.remove()
            db.engine.dispose()
    database["clean"]()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def served(make_app):
    """A client of a second app on this test's database, served as gunicorn serves: each request has
    its own application context and session, torn down when the view returns, before a streamed body
    is read. (`client` calls run inside the test's application context, whose one session outlives
    every request: nothing is ever detached there.) `persona.on(served)` calls through it."""
    return make_app().test_client()


@pytest.fixture
def session(app):
    return db.session


# --- personas ----------------------------------------------------------------------------------

class Persona:
    """A logged-in user of the API: `persona.get(path)` sends their bearer token."""

    def __init__(self, client, account, tokens):
        self.client = client
        self.account = account
        self.tokens = tokens

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    def _call(self, method, path, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return getattr(self.client, method)(path, headers=headers, **kwargs)

    def on(self, client) -> Persona:
        """The same person calling through another client (see `served`)."""
        return Persona(client, self.account, self.tokens)

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, **kw):
        return self._call("post", path, **kw)

    def patch(self, path, **kw):
        return self._call("patch", path, **kw)


@pytest.fixture
def login(client, session):
    """login(role, department=None, institution_id=None) -> Persona with a fresh account."""
    from api import accounts, auth

    def make(role, department=None, institution_id=None, username=None):
        account = accounts.create_account(
            session=session, username=username or f"{role}-{secrets.token_hex(4)}",
            password="a-long-test-password", role=role, department=department, institution_id=institution_id)
        tokens = auth.issue_tokens(session=session, account=account)
        session.commit()
        return Persona(client, account, tokens)

    return make


@pytest.fixture
def admin(login):
    return login("admin")


@pytest.fixture
def health_officer(login):
    return login("officer", department="health")


@pytest.fixture
def health_supervisor(login):
    return login("supervisor", department="health")


@pytest.fixture
def supervisor(login):
    """The same person as `health_supervisor`, by the name the supervision and exchange tests use."""
    return login("supervisor", department="health")


@pytest.fixture
def citizen(login):
    return login("citizen")


@pytest.fixture
def market_officer(login):
    return login("officer", department="market")


# --- directory data ----------------------------------------------------------------------------

def valid_uscc(serial: int) -> str:
    from stdnum.cn import uscc

    body = f"91370112MA3C{serial:05d}"
    return body + uscc.calc_check_digit(body)


def valid_id_number(serial: int) -> str:
    from stdnum.cn import ric

    body = f"37010219900101{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def institution_payload(serial: int = 1, **overrides) -> dict:
    today = dt.date.today()
    payload = {
        "name": f"测试诊所{serial}", "uscc": valid_uscc(serial), "licence_no": f"PDY{serial:05d}-137011217D2112",
        "category": "clinic", "scope": ["内科", "外科"], "address": f"测试路 {serial} 号", "street": "山大路街道",
        "legal_representative": "王某", "principal": "王某", "licence_valid_from": str(today - dt.timedelta(days=365)),
        "licence_valid_to": str(today + dt.timedelta(days=3 * 365)), "phone": "0531-88000000",
        "remote_monitoring": False,
    }
    payload.update(overrides)
    return payload


def staff_payload(serial: int = 1, **overrides) -> dict:
    payload = {"name": f"医生{serial}", "role": "physician", "id_number": valid_id_number(serial),
               "title": "主治医师", "qualification_no": f"Q{serial:06d}", "practice_cert_no": f"P{serial:09d}",
               "practice_category": "临床", "practice_scope": "内科专业"}
    payload.update(overrides)
    return payload


@pytest.fixture
def clinic(admin):
    """A registered clinic, as the API returned it."""
    response = admin.post("/api/v1/institutions", json=institution_payload(1))
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def clinic_account(login, clinic):
    return login("institution", institution_id=clinic["id"])


@pytest.fixture
def token(clinic):
    """The clinic's code token (what its QR code carries)."""
    return clinic["code"]["token"]


@pytest.fixture
def second_clinic(admin, clinic):
    """A second clinic, registered after `clinic`."""
    response = admin.post("/api/v1/institutions", json=institution_payload(2, name="第二诊所"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()
