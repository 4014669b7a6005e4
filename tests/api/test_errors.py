"""Every error answers the contract's envelope {code, message (zh-CN), fields?}, never a stack trace."""

from __future__ import annotations

import io
import json

from tests.api.helpers import assert_error

LOGIN = "/api/v1/auth/login"


def test_an_unknown_path_answers_404_not_found(client):
    body = assert_error(client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")

    assert "fields" not in body


def test_an_unknown_path_outside_the_api_answers_the_envelope_too(client):
    assert_error(client.get("/no-such-page"), 404, "NOT_FOUND")


def test_a_wrong_method_answers_405_method_not_allowed_with_allow(client):
    response = client.get(LOGIN)

    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response.headers["Allow"]


def test_malformed_json_answers_422_validation_failed(client):
    response = client.post(LOGIN, data='{"username": "a", "password": ', content_type="application/json")

    assert_error(response, 422, "VALIDATION_FAILED")


def test_a_json_body_that_is_not_an_object_answers_422(client):
    response = client.post(LOGIN, data=json.dumps(["username", "password"]), content_type="application/json")

    assert_error(response, 422, "VALIDATION_FAILED")


def test_absurdly_nested_json_answers_422_not_500(client):
    response = client.post(LOGIN, data="[" * 100_000 + "]" * 100_000, content_type="application/json")

    assert_error(response, 422, "VALIDATION_FAILED")


def test_an_unknown_json_field_answers_422_naming_it(client):
    response = client.post(LOGIN, json={"username": "someone", "password": "whatever-it-is", "remember_me": True})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert "remember_me" in body["fields"]
    assert all(isinstance(m, str) for m in body["fields"]["remember_me"])


def test_missing_fields_are_named_each(client):
    response = client.post(LOGIN, json={})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert {"username", "password"} <= set(body["fields"])


def _has_chinese(message: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in message)


def test_field_messages_are_in_chinese_like_the_rest_of_the_envelope(client):
    response = client.post(LOGIN, json={"password": 12345, "remember_me": True})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert body["fields"]["username"] == ["必填"]
    assert body["fields"]["remember_me"] == ["不接受此字段"]
    assert body["fields"]["password"] == ["应为文本"]


def test_a_length_or_choice_message_keeps_its_bounds_and_choices(client):
    response = client.post("/api/v1/complaints", json={"category": "medical_quality", "content": "短",
                                                       "anonymous": "maybe", "target": {"institution_id": 1}})

    body = assert_error(response, 422, "VALIDATION_FAILED")
    assert body["fields"]["content"] == ["长度应在 10 到 2000 之间"]
    assert body["fields"]["anonymous"] == ["应为 true 或 false"]
    assert all(_has_chinese(m) for messages in body["fields"].values() for m in messages), body["fields"]


def test_a_form_body_answers_415_unsupported_media_type(client):
    response = client.post(LOGIN, data={"username": "someone", "password": "whatever-it-is"})

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_plain_text_body_answers_415_unsupported_media_type(client):
    response = client.post(LOGIN, data='{"username": "a", "password": "b"}', content_type="text/plain")

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_body_over_the_size_limit_answers_413_payload_too_large(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    body = json.dumps({"username": "someone", "password": "x" * 4096})

    response = app.test_client().post(LOGIN, data=body, content_type="application/json")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_body_just_under_the_size_limit_is_read(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    body = json.dumps({"username": "someone", "password": "x" * 100})

    response = app.test_client().post(LOGIN, data=body, content_type="application/json")

    assert_error(response, 401, "INVALID_CREDENTIALS")


def test_an_unexpected_exception_answers_500_without_a_traceback(make_app):
    app = make_app()

    def explode():
        raise RuntimeError("secret-connection-string=postgres://u:hunter2@db")

    app.add_url_rule("/api/v1/explode", "explode", explode)

    response = app.test_client().get("/api/v1/explode")

    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert set(body) == {"code", "message"}
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "hunter2", "secret-connection-string", "explode", 'File "'):
        assert leak not in text


def test_the_app_keeps_answering_after_an_unexpected_exception(make_app):
    app = make_app()

    def explode():
        raise ZeroDivisionError("boom")

    app.add_url_rule("/api/v1/explode", "explode", explode)
    client = app.test_client()
    assert client.get("/api/v1/explode").status_code == 500

    response = client.get("/healthz")

    assert response.status_code == 200


def _post_chunked(app, path: str, body: bytes, content_type: str):
    """A body sent with Transfer-Encoding: chunked, as gunicorn hands it over: no Content-Length, the
    stream ended by the server (wsgi.input_terminated), its size known only once read."""
    return app.test_client().post(path, input_stream=io.BytesIO(body), content_type=content_type,
                                  headers={"Transfer-Encoding": "chunked"},
                                  environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_json_body_over_the_size_limit_answers_413_as_with_a_content_length(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    body = json.dumps({"username": "someone", "password": "x" * 4096}).encode()

    response = _post_chunked(app, LOGIN, body, "application/json")

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_chunked_json_body_under_the_size_limit_is_read(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    body = json.dumps({"username": "someone", "password": "x" * 100}).encode()

    response = _post_chunked(app, LOGIN, body, "application/json")

    assert_error(response, 401, "INVALID_CREDENTIALS")


def test_a_chunked_body_of_another_type_still_answers_415(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)

    response = _post_chunked(app, LOGIN, b"username=someone&password=secret", "application/x-www-form-urlencoded")

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_chunked_json_body_of_exactly_the_size_limit_is_read(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    body = json.dumps({"username": "someone", "password": "x" * 100}).encode()
    body += b" " * (1024 - len(body))  # JSON allows trailing whitespace

    response = _post_chunked(app, LOGIN, body, "application/json")

    assert_error(response, 401, "INVALID_CREDENTIALS")
