"""Checklist templates: the data files, listing by category, publishing new versions, loading files."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from api.errors import Conflict
from selfcheck import templates as template_files
from selfcheck.models import AREAS, TIERS, ChecklistTemplate
from tests.api.helpers import assert_error
from tests.selfcheck.conftest import TEMPLATES, filed

TEMPLATE_FILES = sorted(template_files.TEMPLATE_DIR.glob("*.json"))


def _publishable(template: dict, **overrides) -> dict:
    """A POST body for a new version of `template`, built from the API's listing of it."""
    items = [{k: item[k] for k in ("code", "area", "tier", "text", "basis")} for item in template["items"]]
    body = {"key": template["key"], "name": template["name"], "categories": template["categories"],
            "basis": template["basis"], "items": items}
    body.update(overrides)
    return body


# ---- the data files ---------------------------------------------------------------------------

def test_there_is_a_template_file_for_general_dental_and_cosmetic():
    keys = {json.loads(path.read_text(encoding="utf-8"))["key"] for path in TEMPLATE_FILES}

    assert {"general", "dental", "cosmetic"} <= keys


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.stem)
def test_each_template_file_covers_every_area_with_known_tiers_unique_codes_and_a_basis(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data["items"]

    assert len(items) >= 25
    assert {item["area"] for item in items} == set(AREAS)
    assert {item["tier"] for item in items} <= set(TIERS)
    assert any(item["tier"] == "veto" for item in items)
    codes = [item["code"] for item in items]
    assert len(codes) == len(set(codes))
    assert all(item["basis"].strip() and item["text"].strip() for item in items)
    assert path.stem == f"{data['key']}-v{data['version']}"


# ---- listing ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("category", "key"), [("dental", "dental"), ("clinic", "general"),
                                               ("cosmetic", "cosmetic"), ("hospital", "general")])
def test_the_templates_for_a_category_are_its_own(client, loaded_templates, category, key):
    response = client.get(TEMPLATES, query_string={"category": category})

    assert response.status_code == 200
    (template,) = response.get_json()
    assert (template["key"], template["version"], template["category"]) == (key, 1, category)
    assert len(template["items"]) >= 25
    assert {item["tier"] for item in template["items"]} <= {"veto", "key", "major", "general"}
    assert set(template["items"][0]) >= {"code", "area", "tier", "text"}


def test_without_a_category_every_current_template_is_listed(client, loaded_templates):
    response = client.get(TEMPLATES)

    assert response.status_code == 200
    assert sorted(t["key"] for t in response.get_json()) == ["cosmetic", "dental", "general"]


def test_an_unknown_category_is_refused(client, loaded_templates):
    response = client.get(TEMPLATES, query_string={"category": "spa"})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "category" in body["fields"]


# ---- publishing -------------------------------------------------------------------------------

def test_an_admin_publishes_a_new_version_and_it_becomes_current(client, admin, general_template):
    items = _publishable(general_template)["items"]
    items[0] = items[0] | {"text": "第二版：持有有效执业许可证"}

    response = admin.post(TEMPLATES, json=_publishable(general_template, items=items))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 2
    (current,) = client.get(TEMPLATES, query_string={"category": "clinic"}).get_json()
    assert (current["id"], current["version"]) == (response.get_json()["id"], 2)
    assert current["items"][0]["text"] == "第二版：持有有效执业许可证"
    # The old version is still there, unchanged, for the filings that answered it.
    old = client.get(f"{TEMPLATES}/{general_template['id']}").get_json()
    assert (old["version"], old["items"][0]["text"]) == (1, general_template["items"][0]["text"])


def test_a_filing_against_v1_keeps_v1_after_a_new_version(admin, clinic_account, general_template):
    filing = filed(clinic_account, general_template)
    items = _publishable(general_template)["items"]
    items = [item | {"text": "第二版：" + item["text"]} for item in items]
    assert admin.post(TEMPLATES, json=_publishable(general_template, items=items)).status_code == 201

    again = clinic_account.get(f"/api/v1/selfchecks/{filing['id']}").get_json()

    assert again["template_id"] == general_template["id"]
    assert again["template_version"] == 1
    v1_texts = {item["code"]: item["text"] for item in general_template["items"]}
    assert {a["item_code"]: a["text"] for a in again["answers"]} == v1_texts


@pytest.mark.parametrize("role, department", [("officer", "health"), ("supervisor", "health"),
                                              ("institution", None)])
def test_only_an_admin_publishes_templates(login, clinic, general_template, role, department):
    persona = login(role, department=department, institution_id=clinic["id"] if role == "institution" else None)

    response = persona.post(TEMPLATES, json=_publishable(general_template))

    assert_error(response, 403, "FORBIDDEN")


def test_publishing_needs_a_login(client, general_template):
    assert_error(client.post(TEMPLATES, json=_publishable(general_template)), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("change", [{"area": "astrology"}, {"tier": "fatal"}, {"basis": None}],
                         ids=["unknown-area", "unknown-tier", "no-basis"])
def test_an_item_with_an_unknown_area_or_tier_or_no_basis_is_refused(session, admin, general_template, change):
    items = _publishable(general_template)["items"]
    items[3] = {k: v for k, v in (items[3] | change).items() if v is not None}

    response = admin.post(TEMPLATES, json=_publishable(general_template, items=items))

    assert_error(response, 422, "VALIDATION_FAILED")
    assert session.scalar(select(func.count()).select_from(ChecklistTemplate)) == 3


def test_duplicate_item_codes_are_refused(session, admin, general_template):
    items = _publishable(general_template)["items"]
    items[5] = items[5] | {"code": items[4]["code"]}

    response = admin.post(TEMPLATES, json=_publishable(general_template, items=items))

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert any(items[4]["code"] in message for message in body["fields"]["items"])
    assert session.scalar(select(func.count()).select_from(ChecklistTemplate)) == 3


def test_a_template_for_an_unknown_category_is_refused(admin, general_template):
    response = admin.post(TEMPLATES, json=_publishable(general_template, categories=["spa"]))

    assert_error(response, 422, "VALIDATION_FAILED")


def test_a_new_key_is_published_as_version_1(client, admin, general_template):
    body = _publishable(general_template, key="tcm", name="中医诊所自查表", categories=["tcm_clinic"])

    response = admin.post(TEMPLATES, json=body)

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["key"], response.get_json()["version"]) == ("tcm", 1)
    listed = client.get(TEMPLATES, query_string={"category": "tcm_clinic"}).get_json()
    assert sorted(t["key"] for t in listed) == ["general", "tcm"]


def test_a_template_without_its_own_legal_basis_is_published(client, admin, general_template):
    """`basis` of the whole template is optional (each item carries one): leaving it out is no error."""
    body = _publishable(general_template, key="tcm", name="中医诊所自查表", categories=["tcm_clinic"])
    del body["basis"]

    response = admin.post(TEMPLATES, json=body)

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["key"], response.get_json()["basis"]) == ("tcm", None)


# ---- loading the files ------------------------------------------------------------------------

def test_loading_the_files_twice_adds_nothing_the_second_time(session, loaded_templates):
    assert sorted(t.key for t in loaded_templates) == ["cosmetic", "dental", "general"]

    again = template_files.load_files(session=session)
    session.commit()

    assert again == []
    assert session.scalar(select(func.count()).select_from(ChecklistTemplate)) == 3


def test_a_changed_file_with_a_published_version_is_refused(session, loaded_templates, tmp_path):
    source = template_files.TEMPLATE_DIR / "general-v1.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    data["items"][0]["text"] += "（已修改）"
    (tmp_path / source.name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    with pytest.raises(Conflict):
        template_files.load_files(session=session, directory=tmp_path)
    session.rollback()

    stored = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.key == "general"))
    assert stored.items[0]["text"] == json.loads(source.read_text(encoding="utf-8"))["items"][0]["text"]
    assert session.scalar(select(func.count()).select_from(ChecklistTemplate)) == 3


def test_an_unchanged_copy_of_a_published_file_loads_as_nothing_new(session, loaded_templates, tmp_path):
    source = template_files.TEMPLATE_DIR / "dental-v1.json"
    (tmp_path / source.name).write_bytes(source.read_bytes())

    assert template_files.load_files(session=session, directory=tmp_path) == []


def test_the_load_templates_command_publishes_the_files_once(app, session):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["load-templates"])
    second = runner.invoke(args=["load-templates"])

    assert first.exit_code == 0, first.output
    assert "3 new template version(s)" in first.output
    assert second.exit_code == 0 and "0 new template version(s)" in second.output
    assert session.scalar(select(func.count()).select_from(ChecklistTemplate)) == 3
