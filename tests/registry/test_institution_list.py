"""Listing institutions: paging, filters, and who may list at all."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from registry.models import Institution
from tests.conftest import institution_payload

LIST = "/api/v1/institutions"


@pytest.fixture
def directory(admin):
    """Four institutions: two clinics on 山大路街道, a dental clinic on 洪家楼街道, a hospital."""
    specs = [
        (1, {"name": "历下仁心诊所"}),
        (2, {"name": "泉城口腔门诊部", "category": "dental", "street": "洪家楼街道"}),
        (3, {"name": "舜耕内科诊所", "address": "舜耕路 8 号"}),
        (4, {"name": "济南第九医院", "category": "hospital", "street": "甸柳街道"}),
    ]
    created = {}
    for serial, overrides in specs:
        response = admin.post(LIST, json=institution_payload(serial, **overrides))
        assert response.status_code == 201, response.json
        created[serial] = response.json
    return created


def _names(response):
    assert response.status_code == 200, response.json
    return [item["name"] for item in response.json["items"]]


def test_it_pages_the_list(admin, directory):
    first = admin.get(f"{LIST}?page=1&page_size=3")
    second = admin.get(f"{LIST}?page=2&page_size=3")

    assert first.json["total"] == second.json["total"] == 4
    assert (first.json["page"], first.json["page_size"]) == (1, 3)
    assert len(first.json["items"]) == 3
    assert len(second.json["items"]) == 1
    ids = [i["id"] for i in first.json["items"] + second.json["items"]]
    assert sorted(ids) == sorted(i["id"] for i in directory.values())


def test_it_defaults_to_twenty_per_page(admin, directory):
    body = admin.get(LIST).json

    assert (body["page"], body["page_size"], body["total"]) == (1, 20, 4)
    assert set(body["items"][0]) >= {"id", "status", "licence_status", "credit", "code"}


def test_a_page_past_the_end_is_empty_but_keeps_the_total(admin, directory):
    body = admin.get(f"{LIST}?page=9&page_size=2").json

    assert body["items"] == []
    assert body["total"] == 4


@pytest.mark.parametrize("query", ["page_size=101", "page_size=0", "page=0", "page=x",
                                   "category=spa", "grade=E"])
def test_it_refuses_bad_list_arguments(admin, query):
    response = admin.get(f"{LIST}?{query}")

    assert response.status_code == 422
    assert response.json["code"] == "VALIDATION_FAILED"
    assert response.json["fields"]


def test_it_accepts_a_page_size_of_100(admin, directory):
    assert admin.get(f"{LIST}?page_size=100").json["page_size"] == 100


@pytest.mark.parametrize(("query", "expected"), [
    ("q=口腔", ["泉城口腔门诊部"]),
    ("q=舜耕路", ["舜耕内科诊所"]),  # address
    ("q=PDY00004", ["济南第九医院"]),  # licence number
    ("q=pdy00004", ["济南第九医院"]),  # case does not matter
    ("q=%25", []),  # a literal "%" is not a wildcard
    ("q=_", []),
    ("category=dental", ["泉城口腔门诊部"]),
    ("category=clinic", ["历下仁心诊所", "舜耕内科诊所"]),
    ("street=山大路街道", ["历下仁心诊所", "舜耕内科诊所"]),
    ("street=甸柳街道&category=clinic", []),
    ("street=甸柳街道&category=hospital", ["济南第九医院"]),
])
def test_it_filters_the_list(admin, directory, query, expected):
    assert sorted(_names(admin.get(f"{LIST}?{query}"))) == sorted(expected)


def test_it_filters_by_uscc(admin, directory):
    uscc = directory[3]["uscc"]

    assert _names(admin.get(f"{LIST}?q={uscc}")) == ["舜耕内科诊所"]


def test_it_filters_by_credit_grade(admin, directory, session):
    session.execute(update(Institution).where(Institution.id == directory[2]["id"]).values(credit_grade="C"))
    session.commit()

    assert _names(admin.get(f"{LIST}?grade=C")) == ["泉城口腔门诊部"]
    assert len(_names(admin.get(f"{LIST}?grade=B"))) == 3
    assert _names(admin.get(f"{LIST}?grade=A")) == []


@pytest.mark.parametrize(("role", "department"), [
    ("officer", "health"), ("officer", "market"), ("supervisor", "health"), ("admin", None),
])
def test_regulators_may_list(login, directory, role, department):
    assert login(role, department=department).get(LIST).json["total"] == 4


def test_institution_and_citizen_accounts_may_not_list(login, directory):
    own = login("institution", institution_id=directory[1]["id"])

    for persona in (own, login("citizen")):
        response = persona.get(LIST)
        assert response.status_code == 403
        assert response.json["code"] == "FORBIDDEN"


def test_anonymous_callers_may_not_list(client, directory):
    response = client.get(LIST)

    assert response.status_code == 401
    assert response.json["code"] == "UNAUTHORIZED"


def test_a_forged_bearer_token_is_refused(client, directory):
    response = client.get(LIST, headers={"Authorization": "Bearer not.a.token"})

    assert response.status_code == 401
    assert response.json["code"] == "UNAUTHORIZED"
