"""Policy parameters (api.policy): every version file is checked at start, and a doubtful one stops the
app naming the file and the problem; GET /api/v1/policy shows the version in force (or in force on a
given day) to anyone, with every parameter as the file has it and the text that sets it."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from api import policy
from api.policy import PolicyError
from onecode import create_app
from tests.api.helpers import assert_error

POLICY = "/api/v1/policy"
V1_FILE = policy.PACKAGED / "v1.toml"
V1_TEXT = V1_FILE.read_text(encoding="utf-8")
V1 = tomllib.loads(V1_TEXT)


def edited(text: str, old: str, new: str) -> str:
    """`text` with its one `old` replaced by `new` (the edit must apply: the test is about it)."""
    assert text.count(old) == 1, f"{old!r} is not once in the policy file"
    return text.replace(old, new)


def version_2(effective_from: dt.date | str, *edits: tuple[str, str]) -> str:
    """The packaged file as version 2, effective from that day, with `edits` applied."""
    text = edited(V1_TEXT, "version = 1\n", "version = 2\n")
    text = edited(text, "effective_from = 2026-01-01\n", f"effective_from = {effective_from}\n")
    text = edited(text, "（第 1 版）", "（第 2 版）")
    for old, new in edits:
        text = edited(text, old, new)
    return text


def folder(tmp_path, files: dict[str, str | bytes]) -> str:
    path = tmp_path / "policies"
    path.mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (path / name).write_bytes(content)
        else:
            (path / name).write_text(content, encoding="utf-8")
    return str(path)


def start(policy_dir: str):
    return create_app({"ENV": "testing", "DATABASE_URL": "sqlite://", "POLICY_DIR": policy_dir})


# ---- start-up checks --------------------------------------------------------------------------------

def test_the_packaged_file_copied_into_a_folder_starts_the_app(tmp_path):
    app = start(folder(tmp_path, {"v1.toml": V1_TEXT}))

    assert [v.version for v in app.extensions["policy"].versions] == [1]


ONE_FILE_EDITS = {
    "a parameter missing": (
        "public_years = 5  # penalties", "# public_years gone", "credit.public_years is missing"),
    "an unknown parameter": (
        "[credit]\n", "[credit]\ngrade_e_from = 30\n", "credit.grade_e_from is not a policy parameter"),
    "a number written as text": (
        "grade_c_from = 6  #", 'grade_c_from = "6"  #', "credit.grade_c_from must be a whole number"),
    "a fraction for a whole number": (
        "reply_days = 60  #", "reply_days = 60.5  #", "complaints.reply_days must be a whole number"),
    "a boolean for a whole number": (
        "accept_working_days = 5  #", "accept_working_days = true  #",
        "complaints.accept_working_days must be a whole number"),
    "the C cut-off at the D cut-off": (
        "grade_c_from = 6  #", "grade_c_from = 12  #", "grade_c_from must be below credit.grade_d_from"),
    "the C cut-off above the D cut-off": (
        "grade_c_from = 6  #", "grade_c_from = 13  #", "grade_c_from must be below credit.grade_d_from"),
    "bands not rising": (
        "key_supervision_from = 16  #", "key_supervision_from = 12  #", "credit bands must rise"),
    "bands falling at the top": (
        "validation_deferred_from = 21  #", "validation_deferred_from = 15  #", "credit bands must rise"),
    "a ratio above 1": (
        "D = 1.0 }", "D = 1.5 }", "draws.grade_ratios must be a ratio from 0 to 1"),
    "a negative risk ratio": (
        "low = 0.10,", "low = -0.1,", "draws.graded_risk_ratios must be a ratio from 0 to 1"),
    "ratios falling as the grade worsens": (
        "C = 0.30, D = 1.0 }", "C = 0.30, D = 0.2 }", "draws.grade_ratios must not fall"),
    "a grade missing from the ratios": (
        "A = 0.05, B = 0.10,", "B = 0.10,", "draws.grade_ratios must be a table of exactly A, B, C, D"),
    "mode_lookback_years 0": (
        "mode_lookback_years = 3  #", "mode_lookback_years = 0  #",
        "credit.mode_lookback_years must be a whole number from 1 to 10"),
    "a parameter without a source": (
        '"credit.public_years" = "local"\n', "", "sources: credit.public_years names no source"),
    "a source for no parameter": (
        '"credit.public_years" = "local"\n', '"credit.public_years" = "local"\n"credit.grade_e_from" = "local"\n',
        "sources: credit.grade_e_from is not a policy parameter"),
    "an empty source": (
        '"credit.public_years" = "local"\n', '"credit.public_years" = "  "\n', "[sources] must name"),
    "an unknown category among the key ones": (
        'key_categories = ["cosmetic", "tcm_clinic", "dental"]', 'key_categories = ["cosmetic", "sauna"]',
        "draws.key_categories: unknown category 'sauna'"),
    "a key category twice": (
        'key_categories = ["cosmetic", "tcm_clinic", "dental"]', 'key_categories = ["cosmetic", "cosmetic"]',
        "draws.key_categories must be a list of distinct names"),
    "a rule code with no points": (
        '"STF-INF-01" = 6\n', "", "no points for rule STF-INF-01"),
    "points for a rule that does not exist": (
        '"STF-INF-01" = 6\n', '"STF-INF-01" = 6\n"STF-XXX-99" = 2\n', "unknown rule STF-XXX-99"),
    "no points at all for a rule": (
        '"INS-LIC-01" = 10\n', '"INS-LIC-01" = 0\n', "violations.points must be one of 1, 2, 4, 6, 10"),
    "an unknown section": (
        "[sources]\n", "[extras]\nthing = 1\n\n[sources]\n", "unknown key 'extras'"),
    "a misspelt section": (
        "[complaints]\n", "[complaint]\n", "unknown key 'complaint'"),
    "no version": (
        "version = 1\n", "", "version must be a whole number"),
    "an effective date that is text": (
        "effective_from = 2026-01-01\n", 'effective_from = "2026-01-01"\n', "effective_from must be a date"),
    "an effective date and time": (
        "effective_from = 2026-01-01\n", "effective_from = 2026-01-01T00:00:00\n", "effective_from must be a date"),
}


@pytest.mark.parametrize(("old", "new", "problem"), ONE_FILE_EDITS.values(), ids=ONE_FILE_EDITS.keys())
def test_a_doubtful_policy_file_stops_the_app_naming_the_file_and_the_problem(tmp_path, old, new, problem):
    policy_dir = folder(tmp_path, {"v1.toml": edited(V1_TEXT, old, new)})

    with pytest.raises(PolicyError) as refused:
        start(policy_dir)

    assert problem in str(refused.value)
    assert "v1.toml" in str(refused.value)


def test_the_packaged_file_itself_passes_every_check():
    """The premise of the edits above: each of them alone is what stops the app."""
    book = policy.load(None)

    assert [v.version for v in book.versions] == [1]


def test_two_files_with_the_same_version_stop_the_app(tmp_path):
    policy_dir = folder(tmp_path, {"a.toml": V1_TEXT, "b.toml": V1_TEXT})

    with pytest.raises(PolicyError, match="version 1 is in two files") as refused:
        start(policy_dir)

    assert "a.toml" in str(refused.value) and "b.toml" in str(refused.value)


@pytest.mark.parametrize("effective_from", ["2025-06-01", "2026-01-01"])
def test_a_later_version_taking_effect_no_later_than_the_earlier_one_stops_the_app(tmp_path, effective_from):
    policy_dir = folder(tmp_path, {"v1.toml": V1_TEXT, "v2.toml": version_2(effective_from)})

    with pytest.raises(PolicyError, match="version 2 must take effect after version 1") as refused:
        start(policy_dir)

    assert "v2.toml" in str(refused.value)


def test_a_doubtful_second_version_stops_the_app_though_the_first_is_sound(tmp_path):
    policy_dir = folder(tmp_path, {"v1.toml": V1_TEXT,
                                   "v2.toml": version_2("2027-01-01", ("grade_c_from = 6  #", "grade_c_from = 20  #"))})

    with pytest.raises(PolicyError, match="grade_c_from must be below") as refused:
        start(policy_dir)

    assert "v2.toml" in str(refused.value)


def test_a_second_version_with_a_rule_code_without_points_stops_the_app(tmp_path):
    policy_dir = folder(tmp_path, {"v1.toml": V1_TEXT, "v2.toml": version_2("2027-01-01", ('"INS-LIC-03" = 10\n', ""))})

    with pytest.raises(PolicyError, match="no points for rule INS-LIC-03") as refused:
        start(policy_dir)

    assert "v2.toml" in str(refused.value)


def test_an_empty_folder_stops_the_app(tmp_path):
    policy_dir = folder(tmp_path, {"README.txt": "no policy here"})

    with pytest.raises(PolicyError, match="no policy file") as refused:
        start(policy_dir)

    assert policy_dir in str(refused.value)


def test_a_folder_that_does_not_exist_stops_the_app(tmp_path):
    with pytest.raises(PolicyError, match="no policy file"):
        start(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("content", ["version = = 1\n", V1_TEXT.replace("[credit]", "[credit"),
                                     "\ufeff".encode() + b"\xff\xfe version = 1"],
                         ids=["bad syntax", "unclosed table", "not UTF-8"])
def test_a_file_that_is_not_toml_stops_the_app(tmp_path, content):
    policy_dir = folder(tmp_path, {"v1.toml": V1_TEXT, "v2.toml": content})

    with pytest.raises(PolicyError, match="is not TOML") as refused:
        start(policy_dir)

    assert "v2.toml" in str(refused.value)


def test_the_policy_error_is_a_config_error():
    """So the app's start refuses it as it refuses a bad setting."""
    from api.config import ConfigError

    assert issubclass(PolicyError, ConfigError)


# ---- GET /api/v1/policy -----------------------------------------------------------------------------

def _expected_parameters(document: dict) -> dict:
    return {section: document[section] for section in ("credit", "violations", "complaints", "draws")}


def test_the_policy_is_the_same_for_nobody_a_citizen_an_institution_and_a_regulator(
        client, citizen, clinic_account, health_officer, admin, market_officer):
    anonymous = client.get(POLICY)
    assert anonymous.status_code == 200, anonymous.get_json()

    for persona in (citizen, clinic_account, health_officer, market_officer, admin):
        response = persona.get(POLICY)
        assert response.status_code == 200, (persona.account.role, response.get_json())
        assert response.get_json() == anonymous.get_json()


def test_the_policy_shows_version_1_with_every_parameter_as_the_file_has_it(client):
    body = client.get(POLICY).get_json()

    assert body["version"] == V1["version"] == 1
    assert body["effective_from"] == V1["effective_from"].isoformat()
    assert body["title"] == V1["title"]
    assert body["parameters"] == _expected_parameters(V1)
    assert body["versions"] == [{"version": 1, "effective_from": "2026-01-01", "title": V1["title"]}]


def test_every_parameter_has_a_source_and_local_ones_say_so(client):
    body = client.get(POLICY).get_json()

    parameters = {f"{section}.{name}" for section, table in body["parameters"].items() for name in table}
    sources = {source["parameter"]: source for source in body["sources"]}
    assert set(sources) == parameters == set(V1["sources"])
    assert len(body["sources"]) == len(sources)  # each once
    for name, source in sources.items():
        text = V1["sources"][name]
        assert source["local"] is text.startswith("local"), name
        if source["local"]:
            assert source["text"] == (text.removeprefix("local").lstrip(":： ") or None), name
        else:
            assert source["text"] == text, name
    assert sources["credit.grade_c_from"] == {"parameter": "credit.grade_c_from", "local": True, "text": None}
    assert sources["complaints.reply_days"]["local"] is False
    assert "60日" in sources["complaints.reply_days"]["text"]


@pytest.mark.parametrize("on", ["2026-13-01", "yesterday", "2026-02-30", ""])
def test_a_bad_day_is_refused_in_the_contracts_format(client, on):
    body = assert_error(client.get(POLICY, query_string={"on": on}), 422, "VALIDATION_FAILED")

    assert "on" in body.get("fields", {}), body


@pytest.fixture
def two_versions(make_app, tmp_path):
    """An app whose POLICY_DIR holds v1 (2026-01-01) and a v2 effective from 2027-07-01 (C from 4 points)."""
    v2 = version_2("2027-07-01", ("grade_c_from = 6  #", "grade_c_from = 4  #"),
                   ("reply_days = 60  #", "reply_days = 45  #"))
    app = make_app(POLICY_DIR=folder(tmp_path, {"v1.toml": V1_TEXT, "v2.toml": v2}))
    return app, tomllib.loads(v2)


def test_on_a_day_shows_the_version_in_force_that_day(two_versions):
    app, v2 = two_versions
    client = app.test_client()

    before = client.get(POLICY, query_string={"on": "2027-06-30"}).get_json()
    on_the_day = client.get(POLICY, query_string={"on": "2027-07-01"}).get_json()
    after = client.get(POLICY, query_string={"on": "2030-01-01"}).get_json()
    before_the_first = client.get(POLICY, query_string={"on": "2020-01-01"}).get_json()

    assert (before["version"], before["parameters"]) == (1, _expected_parameters(V1))
    assert before["parameters"]["credit"]["grade_c_from"] == 6
    for shown in (on_the_day, after):
        assert (shown["version"], shown["effective_from"]) == (2, "2027-07-01")
        assert shown["parameters"] == _expected_parameters(v2)
        assert shown["parameters"]["credit"]["grade_c_from"] == 4
        assert shown["parameters"]["complaints"]["reply_days"] == 45
    assert before_the_first["version"] == 1  # the first version for days before it
    expected_versions = [{"version": 1, "effective_from": "2026-01-01", "title": V1["title"]},
                         {"version": 2, "effective_from": "2027-07-01", "title": v2["title"]}]
    for shown in (before, on_the_day, after, before_the_first):
        assert shown["versions"] == expected_versions


def test_without_a_day_the_version_in_force_today_is_shown(two_versions):
    from api.database import today_shanghai

    app, _ = two_versions
    shown = app.test_client().get(POLICY).get_json()

    assert shown["version"] == (2 if today_shanghai() >= dt.date(2027, 7, 1) else 1)


def test_versions_apply_in_their_effective_order_whatever_the_file_names(make_app, tmp_path):
    v2 = version_2("2027-07-01")
    app = make_app(POLICY_DIR=folder(tmp_path, {"a-new.toml": v2, "z-old.toml": V1_TEXT}))
    book = app.extensions["policy"]

    assert [v.version for v in book.versions] == [1, 2]
    assert book.in_force(dt.date(2027, 6, 30)).version == 1
    assert book.in_force(dt.date(2027, 7, 1)).version == 2
