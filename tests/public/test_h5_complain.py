"""The H5 complaint form /c/{token}/complain: a plain form (no JavaScript) that files a complaint about
what was scanned, with an optional photo, and shows the tracking number and query code once."""

from __future__ import annotations

import os
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from api.database import db
from complaints import attachments
from complaints.models import Attachment, Complaint
from public import complain_form
from tests.complaints.helpers import (
    GPS_MARKER,
    TEXT_MARKER,
    jpeg_with_exif,
    jpeg_without_metadata,
    pdf,
    png_with_bad_crc,
    rows,
    stored_counts,
    track,
)
from tests.conftest import BASE_CONFIG, institution_payload, staff_payload
from tests.public.h5_helpers import (
    CONTENT,
    SAVE_MESSAGE,
    Page,
    assert_accessible,
    complain,
    complain_path,
    form_nonce,
    nonce_of,
    post_form,
    receipt_of,
)


def _case(tracking_no: str) -> Complaint:
    db.session.expire_all()
    return db.session.scalar(select(Complaint).where(Complaint.tracking_no == tracking_no))


def _upload_files(app) -> list[str]:
    return [os.path.join(root, name) for root, _, names in os.walk(app.config["UPLOAD_DIR"]) for name in names]


# ---- the form --------------------------------------------------------------------------------------

def test_the_form_names_the_clinic_and_offers_every_category(client, session, token, clinic):
    response = client.get(complain_path(token))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert clinic["name"] in page
    for name in ("医疗质量与安全", "医保欺诈骗保", "非法行医"):
        assert name in page
    parsed = assert_accessible(page)
    assert parsed.control("photo")["accept"] == "image/jpeg,image/png,application/pdf"
    assert parsed.control("photo")["type"] == "file"
    assert {"category", "content", "anonymous", "contact_name", "contact_phone"} <= {
        c.get("name") for c in parsed.controls}
    assert 'enctype="multipart/form-data"' in page and 'method="post"' in page


def test_the_form_forbids_scripts_and_outside_assets(client, token):
    response = client.get(complain_path(token))

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "form-action 'self'" in policy


def test_a_category_in_the_address_shows_its_own_questions(client, token):
    response = client.get(complain_path(token), query_string={"category": "insurance_fraud"})

    page = assert_accessible(response.get_data(as_text=True))
    assert page.control("details.fraud_type")["_tag"] == "select"
    assert page.control("details.amount")["type"] == "number"
    assert "虚假住院、挂床住院" in response.get_data(as_text=True)


def test_the_old_complaint_address_redirects_to_the_form(client, token):
    response = client.get(f"/c/{token}/complaint")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(complain_path(token))


def test_the_profile_links_to_the_form_directly(client, token):
    scanned = client.get(f"/api/v1/scan/{token}").json

    assert scanned["complaint_url"] == f"{BASE_CONFIG['PUBLIC_BASE_URL']}{complain_path(token)}"


def test_a_staff_code_names_the_person_and_the_clinic(client, admin, clinic):
    doctor = admin.post(f"/api/v1/institutions/{clinic['id']}/staff", json=staff_payload(1)).json

    page = client.get(complain_path(doctor["code"]["token"])).get_data(as_text=True)

    assert "医生1" in page and clinic["name"] in page
    assert doctor["id_number"] not in page


def test_a_revoked_code_shows_the_void_page_and_takes_no_complaint(client, session, health_officer, token):
    nonce = form_nonce(client, token)
    health_officer.post(f"/api/v1/codes/{token}/revoke", json={"reason": "海报被盗"})

    shown = client.get(complain_path(token))
    posted = complain(client, token, nonce=nonce)

    assert shown.status_code == posted.status_code == 410
    assert "此码已作废" in shown.get_data(as_text=True)
    assert rows("complaints") == 0


@pytest.mark.parametrize("unknown", ["AAAAAAAAAAAAAAAAAAAA", "ab!cd"])
def test_an_unknown_code_shows_the_not_found_page(client, clinic, unknown):
    response = client.get(complain_path(unknown))

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "无法识别此码" in response.get_data(as_text=True)


# ---- filing ----------------------------------------------------------------------------------------

def test_a_complaint_shows_its_tracking_number_and_query_code_once(client, session, token, clinic):
    response = complain(client, token)

    tracking_no, query_code = receipt_of(response)
    page = response.get_data(as_text=True)
    assert SAVE_MESSAGE in page
    assert f'href="/track?tracking_no={tracking_no}"' in page
    assert "卫生健康委" in page
    assert response.headers["Cache-Control"] == "no-store"
    tracked = track(client, tracking_no, query_code).get_json()
    assert tracked["status"] == "submitted" and tracked["department"] == "health"
    case = _case(tracking_no)
    assert case.institution_id == clinic["id"] and case.code_id is not None
    assert case.anonymous and case.contact_name is None and case.contact_phone is None
    assert case.content == CONTENT


def test_a_named_complaint_keeps_the_contact_for_the_department(client, session, health_officer, token):
    response = complain(client, token, anonymous=None, contact_name="张三丰", contact_phone="13912345678")

    tracking_no, _ = receipt_of(response)
    case = health_officer.get(f"/api/v1/complaints/{tracking_no}").get_json()
    assert case["contact"] == {"name": "张三丰", "phone": "13912345678"}
    assert case["anonymous"] is False


def test_the_categorys_own_answers_are_stored_as_their_types(client, session, token):
    response = complain(client, token, category="prices_charges", **{
        "details.amount": "120.5", "details.invoice_no": "No.0012"})

    tracking_no, _ = receipt_of(response)
    assert _case(tracking_no).details == {"amount": 120.5, "invoice_no": "No.0012"}
    assert _case(tracking_no).department == "market"


def test_answers_left_over_from_another_category_are_dropped(client, session, token):
    response = complain(client, token, category="advertising", **{
        "details.clinic_department": "内科", "details.medium": "公众号"})

    tracking_no, _ = receipt_of(response)
    assert _case(tracking_no).details == {"medium": "公众号"}


def test_a_yes_no_question_and_a_date_are_stored(client, session, token):
    response = complain(client, token, **{"details.harm": "true", "details.visit_date": "2026-01-05"})

    tracking_no, _ = receipt_of(response)
    assert _case(tracking_no).details == {"harm": True, "visit_date": "2026-01-05"}


def test_the_show_questions_button_redraws_the_form_without_filing(client, session, token):
    response = complain(client, token, category="drugs_devices", action="refresh")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "补充信息：药品与医疗器械" in page
    assert Page(page).control("details.product_name")["type"] == "text"
    assert CONTENT in page
    assert rows("complaints") == 0


# ---- bad input: the form again, with a message by each field ----------------------------------------

def test_missing_fields_bring_the_form_back_with_messages_and_the_values_kept(client, session, token):
    before = stored_counts()

    response = complain(client, token, category="", content="太短了", anonymous=None, contact_phone="12345")

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    page = assert_accessible(text)
    assert "请选择投诉类别" in page.error_for("category")
    assert "至少 10 个字" in page.error_for("content")
    assert "实名投诉请填写姓名" in page.error_for("contact_name")
    assert "手机号" in page.error_for("contact_phone")
    assert page.control("content")["aria-invalid"] == "true"
    assert ">太短了</textarea>" in text
    assert page.control("contact_phone")["value"] == "12345"
    assert 'id="error-summary"' in text and 'href="#f-content"' in text
    assert stored_counts() == before


def test_an_empty_post_is_a_form_with_messages_not_an_error_page(client, session, token):
    response = post_form(client, complain_path(token), {})

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "页面已失效" in text and "请填写投诉内容" in text
    assert nonce_of(text)  # a fresh one: posting the corrected form works
    assert rows("complaints") == 0


def test_a_required_question_of_the_category_is_asked_for(client, session, token):
    response = complain(client, token, category="insurance_fraud", **{"details.amount": "很多"})

    page = Page(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "请填写问题类型" in page.error_for("details.fraud_type")
    assert "应为数字" in page.error_for("details.amount")
    assert page.control("details.amount")["value"] == "很多"
    assert rows("complaints") == 0


@pytest.mark.parametrize("category", ["no_such_category", "x" * 100, "medical_quality\x00"])
def test_an_unknown_category_is_asked_for_again(client, session, token, category):
    response = complain(client, token, category=category)

    assert response.status_code == 422
    assert "请选择投诉类别" in Page(response.get_data(as_text=True)).error_for("category")
    assert rows("complaints") == 0


def test_anonymous_with_a_name_is_explained(client, session, token):
    response = complain(client, token, contact_name="张三")

    assert response.status_code == 422
    assert "匿名投诉不填写联系人信息" in Page(response.get_data(as_text=True)).error_for("contact_name")


def test_a_time_in_the_future_is_refused(client, session, token):
    response = complain(client, token, occurred_at="2999-01-01T10:00")

    assert response.status_code == 422
    assert "发生时间不能晚于现在" in Page(response.get_data(as_text=True)).error_for("occurred_at")


def test_control_characters_are_refused_in_chinese(client, session, token):
    response = complain(client, token, content=CONTENT + "\x00")

    assert response.status_code == 422
    assert "不能包含控制字符" in Page(response.get_data(as_text=True)).error_for("content")


def test_what_was_typed_comes_back_escaped(client, session, token):
    response = complain(client, token, content="<script>alert(1)</script>", contact_name="<b>x</b>")

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>x</b>" not in text


# ---- the photo -------------------------------------------------------------------------------------

def test_a_photo_is_attached_with_its_location_removed(app, client, session, token):
    response = complain(client, token, files={"photo": (jpeg_with_exif(), "IMG_0001.jpg")})

    tracking_no, _ = receipt_of(response)
    assert "拍摄地点等信息已去除" in response.get_data(as_text=True)
    stored = session.scalars(select(Attachment).where(Attachment.complaint_id == _case(tracking_no).id)).all()
    assert [(a.content_type, a.filename) for a in stored] == [("image/jpeg", "IMG_0001.jpg")]
    with open(attachments.path_of(app.config["UPLOAD_DIR"], stored[0].sha256), "rb") as file:
        kept = file.read()
    assert kept == jpeg_without_metadata()
    assert GPS_MARKER not in kept and TEXT_MARKER not in kept


def test_a_pdf_is_attached_as_sent(app, client, session, token):
    response = complain(client, token, files={"photo": (pdf(1), "收据.pdf")})

    tracking_no, _ = receipt_of(response)
    stored = session.scalar(select(Attachment).where(Attachment.complaint_id == _case(tracking_no).id))
    assert stored.content_type == "application/pdf"


def test_a_photo_the_store_cannot_write_files_nothing_and_gives_the_form_back_to_retry(app, client, token):
    with open(app.config["UPLOAD_DIR"], "wb"):  # a file where the folder should be: no write succeeds
        pass
    content = "医生开药前没有询问过敏史，服药后全身起疹子，想请卫生部门核实处理。"

    response = complain(client, token, content=content, files={"photo": (jpeg_with_exif(), "IMG_0002.jpg")})

    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    page = response.get_data(as_text=True)
    assert content in page  # what the patient typed is still there
    assert "投诉未提交" in page
    assert rows("complaints") == 0


def test_no_photo_chosen_files_the_complaint_without_one(client, session, token):
    response = complain(client, token, files={"photo": (b"", "")})

    tracking_no, _ = receipt_of(response)
    assert rows("complaint_attachments") == 0
    assert _case(tracking_no) is not None


@pytest.mark.parametrize("content, filename", [
    (b"just some text, not a picture at all", "photo.jpg"),
    (b"<html><script>alert(1)</script></html>", "photo.png"),
    (png_with_bad_crc(), "broken.png"),
    (b"\xff\xd8\xff\xe0 truncated", "cut.jpg"),
], ids=["text-as-jpg", "html-as-png", "bad-png", "cut-jpeg"])
def test_a_disguised_or_broken_file_is_refused_and_nothing_is_kept(app, client, session, token, content, filename):
    before = stored_counts()

    response = complain(client, token, files={"photo": (content, filename)})

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    message = Page(text).error_for("photo")
    assert "JPEG" in message or "损坏" in message
    assert CONTENT in text  # the rest of the form is kept
    assert stored_counts() == before
    assert rows("complaint_attachments") == 0
    assert _upload_files(app) == []


def test_a_good_photo_with_a_mistake_elsewhere_is_asked_for_again(client, session, token):
    response = complain(client, token, content="短", files={"photo": (jpeg_with_exif(), "a.jpg")})

    assert response.status_code == 422
    assert "重新选择照片" in Page(response.get_data(as_text=True)).error_for("photo")
    assert rows("complaint_attachments") == 0


def test_a_photo_over_10_mb_is_refused_with_a_message(app, client, session, token):
    too_big = b"\xff\xd8\xff" + b"\0" * attachments.MAX_BYTES

    response = complain(client, token, files={"photo": (too_big, "big.jpg")})

    assert response.status_code == 422
    assert "不能超过 10 MB" in Page(response.get_data(as_text=True)).error_for("photo")
    assert rows("complaints") == 0 and _upload_files(app) == []


def test_a_body_over_the_request_limit_is_a_page_not_json(make_app):
    app = make_app(MAX_CONTENT_LENGTH=4096)
    with app.app_context():
        client = app.test_client()
        token = _clinic_token(client)

        response = complain(client, token, files={"photo": (b"\xff\xd8\xff" + b"\0" * 8192, "big.jpg")})

        assert response.status_code == 413
        assert response.mimetype == "text/html"
        assert "不能超过 10 MB" in response.get_data(as_text=True)
        assert rows("complaints") == 0


def _clinic_token(client) -> str:
    from api import accounts, auth

    admin = accounts.create_account(session=db.session, username="admin-413", password="a-long-test-password",
                                    role="admin")
    tokens = auth.issue_tokens(session=db.session, account=admin)
    db.session.commit()
    created = client.post("/api/v1/institutions", json=institution_payload(7),
                          headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return created.json["code"]["token"]


# ---- the nonce: posts from elsewhere, old pages, double taps ---------------------------------------

def _nonce_signed(secret: str, token: str, age: int = 0) -> str:
    class Signer(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - age

    serializer = URLSafeTimedSerializer(secret, salt=complain_form.NONCE_SALT, signer=Signer)
    return serializer.dumps({"t": token, "n": "0123456789abcdef"})


@pytest.mark.parametrize("nonce", ["", "made-up", "eyJ0IjoiYWJjIn0.ZZZZ.forged"], ids=["missing", "junk", "forged"])
def test_a_post_without_a_good_nonce_is_sent_back(client, session, token, nonce):
    response = complain(client, token, nonce=nonce)

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "页面已失效" in text
    assert CONTENT in text and nonce_of(text) != nonce
    assert rows("complaints") == 0


def test_a_nonce_signed_with_another_key_is_refused(client, session, token):
    response = complain(client, token, nonce=_nonce_signed("another-secret-key-0123456789abcdef", token))

    assert response.status_code == 422
    assert rows("complaints") == 0


def test_a_nonce_of_another_code_is_refused(client, session, admin, token):
    other = admin.post("/api/v1/institutions", json=institution_payload(2)).json

    response = complain(client, token, nonce=form_nonce(client, other["code"]["token"]))

    assert response.status_code == 422
    assert rows("complaints") == 0


def test_a_form_older_than_an_hour_is_sent_back_and_then_accepted(client, session, token):
    stale = _nonce_signed(BASE_CONFIG["SECRET_KEY"], token, age=complain_form.NONCE_MAX_AGE + 60)

    refused = complain(client, token, nonce=stale)
    accepted = complain(client, token, nonce=nonce_of(refused.get_data(as_text=True)))

    assert refused.status_code == 422
    assert "超过 1 小时" in refused.get_data(as_text=True)
    receipt_of(accepted)
    assert rows("complaints") == 1


def test_the_same_form_posted_twice_files_one_case(client, session, token):
    nonce = form_nonce(client, token)

    first = complain(client, token, nonce=nonce, files={"photo": (jpeg_with_exif(), "a.jpg")})
    again = complain(client, token, nonce=nonce, files={"photo": (jpeg_with_exif(), "a.jpg")})

    assert receipt_of(first) == receipt_of(again)
    assert "没有重复立案" in again.get_data(as_text=True)
    assert rows("complaints") == 1 and rows("complaint_attachments") == 1


def test_the_same_form_posted_again_with_other_content_is_refused(client, session, token):
    nonce = form_nonce(client, token)
    receipt_of(complain(client, token, nonce=nonce))

    response = complain(client, token, nonce=nonce, content=CONTENT + "补充说明。")

    assert response.status_code == 409
    assert "已经提交过" in response.get_data(as_text=True)
    assert rows("complaints") == 1


# ---- rate limit ------------------------------------------------------------------------------------

def test_too_many_submissions_get_a_page_saying_so(make_app):
    app = make_app(RATELIMIT_ENABLED=True, COMPLAINT_RATE_LIMIT="2 per minute")
    with app.app_context():
        client = app.test_client()
        token = _clinic_token(client)

        first_two = [complain(client, token) for _ in range(2)]
        third = complain(client, token)

        assert [r.status_code for r in first_two] == [200, 200]
        assert third.status_code == 429
        assert third.mimetype == "text/html"
        assert "过于频繁" in third.get_data(as_text=True)
        assert third.headers["Retry-After"].isdigit()
        assert client.get(complain_path(token)).status_code == 200  # reading the form is not limited
        assert rows("complaints") == 2
