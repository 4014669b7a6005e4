"""Fixtures of the self-inspection and commitment tests: the checklist templates loaded, a second
clinic, and helpers that build complete filings from a template as the API lists it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from api.database import today_shanghai
from selfcheck import periods
from selfcheck import templates as template_files
from selfcheck.models import SelfCheck, SelfCheckAnswer
from tests.conftest import institution_payload

SELFCHECKS = "/api/v1/selfchecks"
TEMPLATES = "/api/v1/selfcheck/templates"


def current_period() -> str:
    """The quarter we are in (Beijing date): always a period an institution may file for."""
    return periods.quarter_of(today_shanghai()).label


def next_period() -> str:
    """The quarter after this one: not begun yet."""
    return periods.quarter_of(periods.quarter_of(today_shanghai()).end + dt.timedelta(days=1)).label


def plan(due: dt.date | None = None, **overrides) -> dict:
    """A full rectification plan, due in 30 days unless told otherwise."""
    return {"plan": "立即整改并组织培训", "owner": "张某", "due_date": str(due or today_shanghai() + dt.timedelta(days=30)),
            **overrides}


def answers_for(template: dict, non_compliant: dict[str, dict] | None = None) -> list[dict]:
    """Every item of `template` answered compliant, except the codes in `non_compliant` (code -> plan)."""
    non_compliant = non_compliant or {}
    answers = []
    for item in template["items"]:
        if item["code"] in non_compliant:
            answers.append({"item_code": item["code"], "result": "non_compliant",
                            "rectification": non_compliant[item["code"]]})
        else:
            answers.append({"item_code": item["code"], "result": "compliant"})
    return answers


def filing_body(template: dict, period: str | None = None, *, non_compliant: dict[str, dict] | None = None,
                signer_name: str = "王某", answers: list[dict] | None = None) -> dict:
    return {"template_id": template["id"], "period": current_period() if period is None else period,
            "answers": answers if answers is not None else answers_for(template, non_compliant),
            "signer_name": signer_name}


def file(persona, template: dict, period: str | None = None, **kwargs):
    """POST a filing; returns the response."""
    return persona.post(SELFCHECKS, json=filing_body(template, period, **kwargs))


def filed(persona, template: dict, period: str | None = None, **kwargs) -> dict:
    """POST a filing that must succeed; returns its body."""
    response = file(persona, template, period, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def first_code(template: dict, tier: str) -> str:
    return next(item["code"] for item in template["items"] if item["tier"] == tier)


def row_counts(session) -> tuple[int, int]:
    """(filings, answers) in the database, as this session sees them (committed or merely flushed)."""
    return (session.scalar(select(func.count()).select_from(SelfCheck)),
            session.scalar(select(func.count()).select_from(SelfCheckAnswer)))


@pytest.fixture
def loaded_templates(session):
    """The checklist templates of selfcheck/templates/, published in the database."""
    added = template_files.load_files(session=session)
    session.commit()
    return added


def _template(client, category: str) -> dict:
    response = client.get(TEMPLATES, query_string={"category": category})
    assert response.status_code == 200, response.get_json()
    (template,) = response.get_json()
    return template


@pytest.fixture
def general_template(client, loaded_templates) -> dict:
    """The current template for clinics (the general one), as the API lists it."""
    return _template(client, "clinic")


@pytest.fixture
def dental_template(client, loaded_templates) -> dict:
    return _template(client, "dental")


@pytest.fixture
def other_clinic(admin):
    response = admin.post("/api/v1/institutions", json=institution_payload(2, name="第二诊所"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def other_account(login, other_clinic):
    return login("institution", institution_id=other_clinic["id"])

