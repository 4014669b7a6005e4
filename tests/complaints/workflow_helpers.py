"""Helpers for the regulators' side of complaints (workflow, visibility, leads).

Their fixtures are in tests/complaints/conftest.py (`second_clinic`, also used by the supervision
tests, in tests/conftest.py).
"""

from __future__ import annotations

from sqlalchemy import select

from complaints.models import Complaint

CONTENT = "就诊时医生未说明检查费用，收费明显高于公示价格。"
CONTACT = {"contact_name": "张三", "contact_phone": "13800138000"}
# The path a case takes through the workflow, and the action that reaches each status.
PATH = [("accept", "accepted"), ("assign", "assigned"), ("investigate", "investigating"),
        ("resolve", "resolved"), ("reply", "replied"), ("close", "closed")]
# Details a category's form requires.
REQUIRED_DETAILS = {"insurance_fraud": {"fraud_type": "fake_admission"},
                    "drugs_devices": {"product_name": "某某胶囊"}}


def complaint_body(target: dict, *, category: str = "medical_quality", anonymous: bool = False, **extra) -> dict:
    body = {"category": category, "content": CONTENT, "target": target, "anonymous": anonymous}
    if not anonymous:
        body |= CONTACT
    if category in REQUIRED_DETAILS:
        body["details"] = REQUIRED_DETAILS[category]
    return body | extra


def submit(client, target: dict, **kwargs) -> dict:
    """File a complaint as a member of the public; answers the receipt."""
    response = client.post("/api/v1/complaints", json=complaint_body(target, **kwargs))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def case_url(tracking_no: str) -> str:
    return f"/api/v1/complaints/{tracking_no}"


def act(persona, tracking_no: str, action: str, **data):
    return persona.post(f"{case_url(tracking_no)}/actions", json={"action": action, **data})


def action_data(action: str, *, handler_id: int | None = None, department: str = "market") -> dict:
    """A complete payload for `action`, so that only the status decides whether it is allowed."""
    return {
        "accept": {"note": "予以受理"},
        "reject": {"note": "不属于本部门职责范围"},
        "assign": {"handler_id": handler_id},
        "investigate": {"note": "已到现场核查"},
        "resolve": {"finding": "substantiated", "note": "情况属实，已责令整改"},
        "reply": {"note": "经核查，情况属实，已依法处理。"},
        "close": {"note": "结案"},
        "transfer": {"department": department, "note": "转交市场监管部门"},
        "extend": {"days": 15, "note": "需补充调查"},
        "refer": {"referred_to": "public_security", "reference_no": "历卫移〔2026〕1号", "note": "已移送公安机关"},
    }[action]


def advance(persona, tracking_no: str, status: str, *, handler_id: int) -> dict:
    """Drive a submitted case to `status` through the API, as `persona` (a supervisor or admin)."""
    if status == "submitted":
        return persona.get(case_url(tracking_no)).get_json()
    if status == "rejected":
        path = [("reject", "rejected")]
    else:
        path = PATH[: [s for _, s in PATH].index(status) + 1]
    body = None
    for action, expected in path:
        response = act(persona, tracking_no, action, **action_data(action, handler_id=handler_id))
        assert response.status_code == 200, (action, response.get_json())
        body = response.get_json()
        assert body["status"] == expected
    return body


def stored_case(session, tracking_no: str) -> Complaint:
    session.expire_all()
    return session.scalar(select(Complaint).where(Complaint.tracking_no == tracking_no))


def update_case(session, tracking_no: str, **columns) -> None:
    """Change stored columns directly (backdating deadlines or submission times)."""
    complaint = stored_case(session, tracking_no)
    for name, value in columns.items():
        setattr(complaint, name, value)
    session.commit()
    session.expire_all()


def ids(page: dict) -> list[str]:
    return [item["tracking_no"] for item in page["items"]]
