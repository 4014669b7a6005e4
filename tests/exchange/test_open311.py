"""Open311 GeoReport v2: categories as services, public request status without content or contact,
and intake with an API client's key through the complaint intake."""

from __future__ import annotations

import pytest

from complaints.models import Complaint

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
