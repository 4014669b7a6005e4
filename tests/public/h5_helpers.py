"""Shared pieces of the H5 page tests: posting the complaint form as a browser would, and reading the
pages back (fields, labels, error messages) with the standard library's HTML parser."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

CONTENT = "输液后出现过敏反应，医生未做皮试也未告知风险。"
SAVE_MESSAGE = "请截图或抄写保存：查询码只显示这一次"
TRACKING_NO = re.compile(r'id="tracking-no">(TS\d{14})<')
QUERY_CODE = re.compile(r'id="query-code">([2-9A-Z]{8})<')


def complain_path(token: str) -> str:
    return f"/c/{token}/complain"


def nonce_of(page: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', page)
    assert found, "the form carries no nonce"
    return found.group(1)


def form_nonce(client, token: str) -> str:
    response = client.get(complain_path(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return nonce_of(response.get_data(as_text=True))


def post_form(client, path: str, fields: dict, files: dict | None = None):
    """POST multipart/form-data, encoded in memory (the test client would spool a large body to a
    temporary file it never closes)."""
    data = dict(fields)
    for name, (content, filename) in (files or {}).items():
        data[name] = FileStorage(io.BytesIO(content), filename=filename, content_type="image/jpeg")
    boundary, body = encode_multipart(data)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def complaint_fields(**overrides) -> dict:
    """A valid anonymous complaint, as the form posts it (the nonce is added by complain())."""
    fields = {"category": "medical_quality", "content": CONTENT, "anonymous": "1"}
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value is not None}


def complain(client, token: str, files: dict | None = None, nonce: str | None = None, **overrides):
    """Open the form (for its nonce) and post it, as someone with a phone would."""
    fields = {"nonce": nonce if nonce is not None else form_nonce(client, token), **complaint_fields(**overrides)}
    return post_form(client, complain_path(token), fields, files)


def receipt_of(response) -> tuple[str, str]:
    """(tracking number, query code) shown on the receipt page."""
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    number, code = TRACKING_NO.search(page), QUERY_CODE.search(page)
    assert number and code, page
    return number.group(1), code.group(1)


class Page(HTMLParser):
    """What an accessibility check needs from a page: controls, labels, ids, scripts, outside links."""

    CONTROLS = ("input", "select", "textarea")

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[dict] = []
        self.scripts = 0
        self.external: list[str] = []
        self.html_lang = None
        self.viewport = False
        self.errors: dict[str, str] = {}  # id of an error message -> its text
        self._open_label = 0
        self._in_error: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "meta" and a.get("name") == "viewport":
            self.viewport = "width=device-width" in (a.get("content") or "")
        if tag == "label":
            self._open_label += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in self.CONTROLS and a.get("type") not in ("hidden", "submit"):
            self.controls.append({**a, "_tag": tag, "_in_label": self._open_label > 0})
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href", "action"):
            value = a.get(name) or ""
            fetched = tag in ("link", "script", "img", "iframe", "form", "source")
            if fetched and value.startswith(("http:", "https:", "//")):
                self.external.append(value)
        if tag == "p" and "error" in (a.get("class") or "").split():
            self._in_error = a.get("id")
            self.errors[self._in_error] = ""

    def handle_endtag(self, tag):
        if tag == "label":
            self._open_label -= 1
        if tag == "p":
            self._in_error = None

    def handle_data(self, data):
        if self._in_error is not None:
            self.errors[self._in_error] += data

    def control(self, name: str) -> dict:
        found = [c for c in self.controls if c.get("name") == name]
        assert found, f"no control named {name}"
        return found[0]

    def error_for(self, name: str) -> str:
        """The error message tied to the control `name` through aria-describedby ("" if none)."""
        described = (self.control(name).get("aria-describedby") or "").split()
        return "".join(self.errors.get(i, "") for i in described)


def assert_accessible(text: str) -> Page:
    """zh-CN, a phone viewport, no scripts and nothing fetched from elsewhere; every control labelled,
    every aria-describedby pointing at something that exists."""
    page = Page(text)
    assert page.html_lang == "zh-CN"
    assert page.viewport
    assert page.scripts == 0
    assert page.external == []
    for control in page.controls:
        assert control.get("id") in page.label_for or control["_in_label"], f"unlabelled control {control}"
        for described in (control.get("aria-describedby") or "").split():
            assert described in page.ids, f"{control.get('name')} described by missing #{described}"
        if control.get("aria-invalid") == "true":
            assert any(i in page.errors for i in control["aria-describedby"].split()), control
    return page
