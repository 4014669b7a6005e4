"""Open311 GeoReport v2: categories as services, public request status without content or contact,
and intake with an API client's key through the complaint intake."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from api.database import db, utcnow
from api.models import DEPARTMENTS
from complaints.models import Complaint, ComplaintEvent
from tests.complaints.helpers import advance

SERVICES, REQUESTS = "/open311/v2/services.json", "/open311/v2/requests.json"


@pytest.fixture
def api_key(admin):
    response = admin.post("/api/v1/api-clients", json={"name": "12345 市民热线 App", "scopes": ["complaints:write"]})
    return response.get_json()["client_secret"]


def post(client, api_key, **form):
    return client.post(REQUESTS, data={"api_key": api_key, **form})


def test_services_are_the_complaint_categories_with_their_departments(client):
    services = client.get(SERVICES).get_json()
    waste = next(s for s in services if s["service_code"] == "medical_waste_transfer")
    assert waste["group"] == "生态环境局" and waste["type"] == "realtime" and waste["metadata"] is True
    assert {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(waste)
    assert len({s["group"] for s in services}) > 1
    definition = client.get("/open311/v2/services/medical_waste_transfer.json").get_json()
    assert [a["code"] for a in definition["attributes"]] == ["location", "carrier"]
    assert client.get("/open311/v2/services/nothing.json").get_json() == [{"code": 404, "description": "未知的服务（投诉类别）"}]


def test_a_named_complaint_about_an_institution_goes_through_intake(client, api_key, clinic, session, health_officer):
    code = client.get(SERVICES).get_json()[0]["service_code"]
    response = post(client, api_key, service_code=code, description="候诊两小时无人接待，态度恶劣",
                    **{"attribute[institution_id]": str(clinic["id"])}, first_name="小红", last_name="李",
                    phone="13800138000")
    assert response.status_code == 200, response.get_json()
    [answer] = response.get_json()
    case = session.query(Complaint).filter_by(tracking_no=answer["service_request_id"]).one()
    assert case.institution_id == clinic["id"] and case.contact_name == "李小红" and not case.anonymous
    tracked = client.get("/api/v1/complaints/track", query_string={"tracking_no": answer["service_request_id"],
                                                                   "query_code": answer["token"]})
    assert tracked.status_code == 200


def test_an_anonymous_complaint_about_an_unlicensed_place_and_by_code(client, api_key, token, session):
    response = post(client, api_key, service_code="medical_waste_transfer", description="夜间有车辆在路边倾倒医疗废物",
                    address_string="历下区山大路 100 号", **{"attribute[place_name]": "无名回收点",
                                                              "attribute[carrier]": "鲁A12345"})
    assert response.status_code == 200, response.get_json()
    case = session.query(Complaint).filter_by(tracking_no=response.get_json()[0]["service_request_id"]).one()
    assert case.anonymous and case.contact_name is None and case.department == "ecology"
    assert case.place_address == "历下区山大路 100 号" and case.details == {"carrier": "鲁A12345"}
    by_code = post(client, api_key, service_code=client.get(SERVICES).get_json()[0]["service_code"],
                   description="扫码投诉：收费不透明，未出示价目表", **{"attribute[code_token]": token})
    assert by_code.status_code == 200


def test_requests_are_public_without_content_contact_or_target(client, api_key, clinic):
    code = client.get(SERVICES).get_json()[0]["service_code"]
    filed = post(client, api_key, service_code=code, description="候诊两小时无人接待，态度恶劣",
                 **{"attribute[institution_id]": str(clinic["id"])}, first_name="小红", last_name="李",
                 phone="13800138000").get_json()[0]
    [one] = client.get(f"/open311/v2/requests/{filed['service_request_id']}.json").get_json()
    assert set(one) == {"service_request_id", "status", "service_code", "service_name", "agency_responsible",
                        "requested_datetime", "updated_datetime"}
    assert one["status"] == "open"
    text = client.get(REQUESTS).get_data(as_text=True)
    assert filed["service_request_id"] in text
    for secret in ("候诊", "李小红", "13800138000", clinic["name"], filed["token"]):
        assert secret not in text
    assert client.get(REQUESTS, query_string={"status": "closed"}).get_json() == []
    assert client.get(REQUESTS, query_string={"service_code": "nothing"}).get_json() == []
    bad = client.get(REQUESTS, query_string={"status": "pending"})
    assert bad.status_code == 400 and bad.get_json()[0]["code"] == 400
    assert client.get("/open311/v2/requests/20990101-999999.json").status_code == 404


def test_posting_without_a_valid_key_is_403_in_open311_shape(client, admin, clinic):
    body = {"service_code": "x", "description": "候诊两小时无人接待，态度恶劣", "attribute[institution_id]": str(clinic["id"])}
    for key in ("", "ocs_wrong"):
        response = client.post(REQUESTS, data={"api_key": key, **body})
        assert response.status_code == 403 and response.get_json()[0]["code"] == 403
    reader = admin.post("/api/v1/api-clients", json={"name": "只读", "scopes": ["credit:read"]}).get_json()
    assert client.post(REQUESTS, data={"api_key": reader["client_secret"], **body}).status_code == 403


def test_bad_input_is_400_in_open311_shape(client, api_key, clinic):
    code = client.get(SERVICES).get_json()[0]["service_code"]
    short = post(client, api_key, service_code=code, description="太短", **{"attribute[institution_id]": str(clinic["id"])})
    assert short.status_code == 400 and short.get_json()[0]["description"].startswith("content")
    assert post(client, api_key, service_code=code, description="候诊两小时无人接待，态度恶劣").status_code == 400
    half = post(client, api_key, service_code=code, description="候诊两小时无人接待，态度恶劣", first_name="红",
                **{"attribute[institution_id]": str(clinic["id"])})
    assert half.status_code == 400  # a name without a phone: intake's rule
    assert post(client, api_key, service_code="nothing", description="候诊两小时无人接待，态度恶劣",
                **{"attribute[institution_id]": str(clinic["id"])}).status_code == 400
    assert post(client, api_key, service_code=code, description="候诊两小时无人接待，态度恶劣",
                **{"attribute[institution_id]": "999999"}).status_code == 400


@pytest.mark.parametrize("value", ["²", "١٢", "１２"])
def test_a_non_ascii_digit_institution_id_is_400_not_500(client, api_key, value):
    code = client.get(SERVICES).get_json()[0]["service_code"]
    response = post(client, api_key, service_code=code, description="候诊两小时无人接待，态度恶劣",
                    **{"attribute[institution_id]": value})
    assert response.status_code == 400 and response.get_json()[0]["code"] == 400


@pytest.mark.parametrize("query", [{"end_date": "0001-01-02T00:00:00Z"}, {"start_date": "0001-01-01T00:00:00"},
                                   {"end_date": "9999-12-31T23:59:59-01:00"}, {"start_date": "1999-12-31T00:00:00Z"}])
def test_dates_outside_the_years_2000_to_2100_are_400_in_open311_shape(client, query):
    response = client.get(REQUESTS, query_string=query)
    assert response.status_code == 400 and response.get_json()[0]["code"] == 400


def test_made_up_keys_count_against_the_callers_address_and_a_valid_key_has_its_own_limit(make_app, login):
    app = make_app(RATELIMIT_ENABLED=True, OPEN311_RATE_LIMIT="2 per minute")
    client = app.test_client()
    admin = login("admin").on(client)
    secret = admin.post("/api/v1/api-clients", json={"name": "12345 App", "scopes": ["complaints:write"]}).get_json()[
        "client_secret"]
    body = {"service_code": "x", "description": "候诊两小时无人接待，态度恶劣", "attribute[institution_id]": "1"}
    answers = [client.post(REQUESTS, data={"api_key": f"ocs_made_up_{n}", **body}).status_code for n in range(3)]
    assert answers == [403, 403, 429]
    assert client.post(REQUESTS, data={"api_key": secret, **body}).status_code == 400  # its own bucket: not 429


def _health_code(client) -> str:
    return next(s["service_code"] for s in client.get(SERVICES).get_json() if s["group"] == DEPARTMENTS["health"])


def _updated(client, tracking_no: str) -> dt.datetime:
    [one] = client.get(f"/open311/v2/requests/{tracking_no}.json").get_json()
    listed = next(r for r in client.get(REQUESTS).get_json() if r["service_request_id"] == tracking_no)
    assert listed["updated_datetime"] == one["updated_datetime"]
    return dt.datetime.fromisoformat(one["updated_datetime"])


def _backdate(complaint_id: int, by: dt.timedelta) -> None:
    for event in db.session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id)):
        event.at -= by
    db.session.commit()


def test_updated_datetime_is_the_last_status_change_not_a_rating_or_a_note(
        client, api_key, clinic, health_officer, health_supervisor, session):
    filed = post(client, api_key, service_code=_health_code(client), description="候诊两小时无人接待，态度恶劣",
                 **{"attribute[institution_id]": str(clinic["id"])}, first_name="小红", last_name="李",
                 phone="13800138000").get_json()[0]
    number = filed["service_request_id"]
    case = session.scalar(select(Complaint).where(Complaint.tracking_no == number))
    advance(number, "replied", officer=health_officer, supervisor=health_supervisor)
    _backdate(case.id, dt.timedelta(hours=2))
    replied_at = session.scalar(select(ComplaintEvent.at).where(ComplaintEvent.complaint_id == case.id,
                                                                ComplaintEvent.action == "reply"))
    assert _updated(client, number) == replied_at

    rated = client.post(f"/api/v1/complaints/{number}/rating", json={"query_code": filed["token"], "score": 4})
    assert rated.status_code == 200, rated.get_json()
    extended = health_officer.post(f"/api/v1/complaints/{number}/actions",
                                   json={"action": "refer", "referred_to": "public_security", "note": "已移送公安机关"})
    session.expire_all()
    assert session.get(Complaint, case.id).updated_at > replied_at + dt.timedelta(hours=1)  # the case did move
    assert _updated(client, number) == replied_at, extended.get_json()

    _backdate(case.id, dt.timedelta(hours=1))
    assert health_officer.post(f"/api/v1/complaints/{number}/actions", json={"action": "close"}).status_code == 200
    closed_at = session.scalar(select(ComplaintEvent.at).where(ComplaintEvent.complaint_id == case.id,
                                                               ComplaintEvent.action == "close"))
    assert _updated(client, number) == closed_at > utcnow() - dt.timedelta(minutes=30)
