"""Printable posters: one A4 SVG per institution, and a ZIP of a street's."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import pytest
import sqlalchemy as sa

from api.database import db
from codes.models import Code
from public.posters import INSTRUCTION
from tests.conftest import institution_payload

SVG = "{http://www.w3.org/2000/svg}"


def poster_of(institution_id: int) -> str:
    return f"/api/v1/institutions/{institution_id}/code/poster"


def _register(admin, serial: int, **overrides) -> dict:
    response = admin.post("/api/v1/institutions", json=institution_payload(serial, **overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _texts(root: ET.Element) -> list[str]:
    return [element.text for element in root.iter(f"{SVG}text")]


def test_the_poster_is_a4_svg_with_name_licence_number_code_and_instruction(admin, clinic):
    response = admin.get(poster_of(clinic["id"]))

    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("210mm", "297mm", "0 0 210 297")
    texts = _texts(root)
    assert clinic["name"] in texts
    assert f"执业许可证登记号：{clinic['licence_no']}" in texts
    assert INSTRUCTION in texts
    assert clinic["code"]["url"] in texts  # in small print
    nested = root.findall(f"{SVG}svg")
    assert len(nested) == 1 and nested[0].get("width") == "140"  # the QR code, 14 cm square


def test_the_poster_is_in_the_credit_colour(admin, clinic):
    body = admin.get(poster_of(clinic["id"])).get_data(as_text=True)

    assert 'stroke="#1a7f37"' in body  # the QR code's dark modules
    assert "绿码（#1a7f37）" in body


def test_a_black_listed_institutions_poster_is_red(admin, login, clinic):
    supervisor = login("supervisor", department="health")
    supervisor.post("/api/v1/lists/black/decisions", json={"institution_id": clinic["id"], "reason": "拒不整改"})

    body = admin.get(poster_of(clinic["id"])).get_data(as_text=True)

    assert 'stroke="#cf222e"' in body
    assert "#1a7f37" not in body


def test_a_long_name_is_set_on_two_lines(admin):
    name = "济南市历城区山大路街道社区卫生服务中心附属口腔门诊部第二分部"
    institution = _register(admin, 5, name=name)

    root = ET.fromstring(admin.get(poster_of(institution["id"])).get_data())

    texts = _texts(root)
    assert name not in texts
    assert any(t and name.startswith(t) for t in texts) and any(t and name.endswith(t) for t in texts)


def test_markup_in_a_name_is_escaped(admin):
    institution = _register(admin, 6, name="<b>宏达</b>&诊所")

    response = admin.get(poster_of(institution["id"]))

    root = ET.fromstring(response.get_data())  # still well-formed
    assert "<b>宏达</b>&诊所" in _texts(root)
    assert b"<b>" not in response.get_data()


def test_an_institution_account_gets_its_own_poster(clinic_account, clinic):
    response = clinic_account.get(poster_of(clinic["id"]))

    assert response.status_code == 200
    assert clinic["name"] in response.get_data(as_text=True)


def test_an_institution_account_gets_404_for_another_institutions_poster(admin, clinic_account):
    other = _register(admin, 2, name="别家诊所")

    response = clinic_account.get(poster_of(other["id"]))

    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"


def test_an_unknown_institution_is_404(admin):
    assert admin.get(poster_of(999)).status_code == 404


def test_an_institution_without_an_active_code_gets_a_clear_410(admin, clinic):
    with db.engine.begin() as connection:
        connection.execute(sa.update(Code).where(Code.institution_id == clinic["id"]).values(status="revoked"))

    response = admin.get(poster_of(clinic["id"]))

    assert response.status_code == 410
    assert "没有有效的码" in response.get_json()["message"]


def test_an_anonymous_caller_gets_no_poster(client, clinic):
    assert client.get(poster_of(clinic["id"])).status_code == 401


# ---- a street's posters ---------------------------------------------------------------------------

STREET = "/api/v1/codes/posters"


@pytest.fixture
def street(admin) -> dict[str, dict]:
    made = {
        "a": _register(admin, 11, name="甲诊所", street="舜华路街道"),
        "b": _register(admin, 12, name="乙/丙诊所", street="舜华路街道"),
        "suspended": _register(admin, 13, name="停业诊所", street="舜华路街道"),
        "elsewhere": _register(admin, 14, name="别的街道诊所", street="洪家楼街道"),
    }
    response = admin.patch(f"/api/v1/institutions/{made['suspended']['id']}", json={"status": "suspended"})
    assert response.status_code == 200, response.get_json()
    return made


def test_a_streets_zip_holds_one_svg_poster_per_active_institution(admin, street):
    response = admin.get(STREET, query_string={"street": "舜华路街道"})

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        names = archive.namelist()
        posters = {name: ET.fromstring(archive.read(name)) for name in names}
    assert len(names) == 2
    assert all(name.endswith(".svg") and "/" not in name for name in names)
    shown = {text for root in posters.values() for text in _texts(root)}
    assert {"甲诊所", "乙/丙诊所"} <= shown
    assert "停业诊所" not in shown and "别的街道诊所" not in shown


def test_a_street_without_institutions_is_404(admin, street):
    response = admin.get(STREET, query_string={"street": "不存在街道"})

    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"


def test_the_street_is_required(admin):
    response = admin.get(STREET)

    assert response.status_code == 422
    assert "street" in response.get_json()["fields"]


def test_an_institution_account_may_not_download_a_streets_posters(clinic_account, street):
    assert clinic_account.get(STREET, query_string={"street": "舜华路街道"}).status_code == 403
