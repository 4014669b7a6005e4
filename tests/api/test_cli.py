"""The command-line tasks: create-account and seed-demo."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from api.database import db
from api.models import Account
from onecode.cli import DEMO_PASSWORD
from supervision.models import Inspection, InspectionDepartment, InspectionPlan
from tests.api.helpers import log_in

PASSWORD = "a-cli-made-password"


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_create_account_takes_the_password_from_the_environment(app, client, monkeypatch):
    monkeypatch.setenv("ONECODE_PASSWORD", PASSWORD)

    result = app.test_cli_runner().invoke(
        args=["create-account", "cli-officer", "--role", "officer", "--department", "market"])

    assert result.exit_code == 0, result.output
    assert "cli-officer" in result.output
    response = log_in(client, "cli-officer", PASSWORD)
    assert response.status_code == 200
    assert response.json["account"]["role"] == "officer"
    assert response.json["account"]["department"] == "market"


def test_create_account_binds_an_institution_account_to_its_institution(app, client, clinic, monkeypatch):
    monkeypatch.setenv("ONECODE_PASSWORD", PASSWORD)

    result = app.test_cli_runner().invoke(
        args=["create-account", "cli-clinic", "--role", "institution", "--institution-id", str(clinic["id"])])

    assert result.exit_code == 0, result.output
    response = log_in(client, "cli-clinic", PASSWORD)
    assert response.status_code == 200
    assert response.json["account"]["institution_id"] == clinic["id"]


def test_create_account_prompts_for_the_password_when_the_environment_has_none(app, client, monkeypatch):
    monkeypatch.delenv("ONECODE_PASSWORD", raising=False)

    result = app.test_cli_runner().invoke(args=["create-account", "cli-admin", "--role", "admin"],
                                          input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert log_in(client, "cli-admin", PASSWORD).status_code == 200


def test_create_account_refuses_an_officer_without_a_department(app, monkeypatch):
    monkeypatch.setenv("ONECODE_PASSWORD", PASSWORD)

    result = app.test_cli_runner().invoke(args=["create-account", "cli-officer", "--role", "officer"])

    assert result.exit_code != 0
    assert "department" in result.output
    assert _count(Account, Account.username == "cli-officer") == 0


def test_create_account_refuses_an_unknown_institution(app, monkeypatch):
    monkeypatch.setenv("ONECODE_PASSWORD", PASSWORD)

    result = app.test_cli_runner().invoke(
        args=["create-account", "cli-clinic", "--role", "institution", "--institution-id", "424242"])

    assert result.exit_code != 0
    assert "institution_id" in result.output
    assert _count(Account, Account.username == "cli-clinic") == 0


def test_create_account_refuses_a_short_password(app, monkeypatch):
    monkeypatch.setenv("ONECODE_PASSWORD", "short")

    result = app.test_cli_runner().invoke(args=["create-account", "cli-admin", "--role", "admin"])

    assert result.exit_code != 0
    assert "password" in result.output
    assert _count(Account, Account.username == "cli-admin") == 0


def test_create_account_refuses_a_taken_username(app, admin, monkeypatch):
    monkeypatch.setenv("ONECODE_PASSWORD", PASSWORD)

    result = app.test_cli_runner().invoke(args=["create-account", admin.account.username, "--role", "admin"])

    assert result.exit_code != 0
    assert _count(Account, Account.username == admin.account.username) == 1


def _seed_counts():
    from registry.models import Institution, Staff

    return (_count(Institution), _count(Staff), _count(Account), _count(InspectionPlan), _count(Inspection),
            _count(InspectionDepartment))


def test_seed_demo_loads_the_demo_once_however_often_it_runs(app):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["seed-demo"])
    db.session.expire_all()
    after_first = _seed_counts()
    second = runner.invoke(args=["seed-demo"])
    db.session.expire_all()
    after_second = _seed_counts()

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert after_first[0] >= 1 and after_first[2] >= 1
    assert after_first[3:] == (1, 1, 2)  # a joint health and market plan, and one joint visit under it
    assert after_second == after_first


def test_seed_demo_prints_scan_urls_that_answer(app, client):
    result = app.test_cli_runner().invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    tokens = re.findall(re.escape(app.config["PUBLIC_BASE_URL"]) + r"/c/([A-Za-z0-9_-]+)", result.output)
    assert len(tokens) >= 1
    try:
        for token in tokens:
            response = client.get(f"/api/v1/scan/{token}")
            assert response.status_code == 200, (token, response.json)
            assert response.json["type"] == "institution"
    finally:
        # Scans are counted in a per-process buffer flushed at exit; store them while this test's
        # database still exists.
        app.extensions["scan_counter"].flush(db.engine)


def test_seed_demo_prints_the_same_scan_urls_the_second_time(app):
    runner = app.test_cli_runner()
    pattern = re.escape(app.config["PUBLIC_BASE_URL"]) + r"/c/[A-Za-z0-9_-]+"

    first = re.findall(pattern, runner.invoke(args=["seed-demo"]).output)
    second = re.findall(pattern, runner.invoke(args=["seed-demo"]).output)

    assert first and first == second


def test_seed_demo_logins_work_with_the_printed_password(app, client):
    result = app.test_cli_runner().invoke(args=["seed-demo"])

    assert DEMO_PASSWORD in result.output
    response = log_in(client, "admin", DEMO_PASSWORD)
    assert response.status_code == 200
    assert response.json["account"]["role"] == "admin"


def test_seed_demo_refuses_to_run_in_production(make_app):
    app = make_app(ENV="production", SECRET_KEY="a-production-secret-of-more-than-32-characters",
                   PUBLIC_BASE_URL="https://x.example")

    result = app.test_cli_runner().invoke(args=["seed-demo"])

    assert result.exit_code != 0
    assert DEMO_PASSWORD not in result.output
    with app.app_context():
        assert _seed_counts() == (0, 0, 0, 0, 0, 0)
