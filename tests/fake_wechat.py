"""A small, real HTTP server on 127.0.0.1 that speaks the parts of WeChat's API onecode uses.

Not a mock of httpx: the app's client opens real sockets to it. It answers

- GET  /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code
       {openid, session_key, unionid?} for a known code (each code works once, as at WeChat: a second
       use answers 40163), 40029 for an unknown or expired code, 40013 / 40125 for a wrong appid /
       secret, and any errcode a test sets for a code (45011, 40226, ...);
- GET  /cgi-bin/token?grant_type=client_credential&appid&secret -> {access_token, expires_in};
- POST /wxa/getwxacodeunlimit?access_token=... {scene, page, check_path, env_version, width}
       -> image/jpeg bytes for a valid token, 40001 for an unknown or invalidated token, 41030 for an
       unknown page, 40169 for a scene longer than 32 characters.

Tests can make it busy (-1) a number of times, slow, answer HTTP 500 or non-JSON, and stop it (the port
is then closed: connection refused) and start it again on the same port. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qsl, urlsplit

JSCODE2SESSION = "/sns/jscode2session"
TOKEN = "/cgi-bin/token"
WXACODE = "/wxa/getwxacodeunlimit"

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    40169: "invalid length for scene, or the data is not json string",
    40226: "high risk user",
    41030: "invalid page",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: dict | None


@dataclass
class _Override:
    status: int
    content_type: str
    body: bytes
    paths: tuple[str, ...] | None  # None: every path


@dataclass
class _Login:
    openid: str
    session_key: str
    unionid: str | None = None
    used: bool = False


@dataclass
class _State:
    logins: dict[str, _Login] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # js_code -> errcode
    slow: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering
    busy: dict[str, int] = field(default_factory=dict)  # path -> how many more -1 answers
    tokens: set[str] = field(default_factory=set)  # access tokens WeChat accepts
    issued: list[str] = field(default_factory=list)
    override: _Override | None = None


def fake_jpeg(scene: str) -> bytes:
    """Small JPEG-looking bytes (SOI, a comment naming the scene, EOI): distinct per scene."""
    comment = b"wxacode:" + scene.encode()
    return b"\xff\xd8\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + b"\xff\xd9"


class FakeWeChat:
    """The fake WeChat. `start()` / `stop()`; `url` is its base URL (WECHAT_API_BASE)."""

    def __init__(self, appid: str = "wx-test-app", secret: str = "test-secret", *,
                 pages: tuple[str, ...] = ("pages/scan/index",), token_lifetime: int = 7200):
        self.appid, self.secret = appid, secret
        self.pages = set(pages)
        self.token_lifetime = token_lifetime
        self.requests: list[Recorded] = []
        self._state = _State()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ---- life cycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> FakeWeChat:
        """Listen on 127.0.0.1 (a free port the first time, the same port after a stop())."""
        assert self._server is None, "already running"
        self._stopping.clear()
        server = _Server(("127.0.0.1", self.port or 0), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-wechat-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket (connections to the port are refused from now on) and wait for
        the request threads, waking any slow answer first."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()  # joins the request threads (block_on_close)
        self._thread.join()
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- what WeChat knows --------------------------------------------------------------------

    def add_login(self, js_code: str, openid: str, *, unionid: str | None = None,
                  session_key: str | None = None) -> str:
        """A wx.login() code WeChat will accept once; returns the session_key it will send."""
        session_key = session_key or "SK-" + hashlib.sha256(js_code.encode()).hexdigest()[:22]
        with self._lock:
            self._state.logins[js_code] = _Login(openid, session_key, unionid)
        return session_key

    def fail(self, js_code: str, errcode: int) -> None:
        """Answer this code with WeChat error `errcode` (40029, 45011, 40226, ...)."""
        with self._lock:
            self._state.errors[js_code] = errcode

    def expire(self, js_code: str) -> None:
        """The code outlived its five minutes: WeChat treats it as invalid (40029)."""
        self.fail(js_code, 40029)

    def make_busy(self, times: int, path: str = JSCODE2SESSION) -> None:
        """The next `times` requests to `path` answer {errcode: -1} (system busy)."""
        with self._lock:
            self._state.busy[path] = times

    def make_slow(self, seconds: float, path: str = JSCODE2SESSION) -> None:
        """Requests to `path` wait `seconds` (or until stop()) before answering."""
        with self._lock:
            self._state.slow[path] = seconds

    def answer_http(self, status: int, body: bytes = b"", content_type: str = "text/plain",
                    paths: tuple[str, ...] | None = None) -> None:
        """Answer every request (or those to `paths`) with this raw HTTP answer, as a failing or
        misconfigured gateway in front of WeChat would."""
        with self._lock:
            self._state.override = _Override(status, content_type, body, paths)

    def answer_normally(self) -> None:
        with self._lock:
            self._state.override = None

    def invalidate_tokens(self) -> None:
        """Every access token issued so far is refused with 40001 (as after a fetch elsewhere)."""
        with self._lock:
            self._state.tokens.clear()

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._state.issued)

    # ---- what it was asked --------------------------------------------------------------------

    def calls(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def forget_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # ---- answers (called from the request threads) --------------------------------------------

    def _answer(self, method: str, path: str, query: dict[str, str], body: dict | None):
        """(status, content type, body bytes) for one request."""
        with self._lock:
            self.requests.append(Recorded(method, path, dict(query), body))
            override = self._state.override
            slow = self._state.slow.get(path, 0.0)
        if slow:
            self._stopping.wait(slow)
        if override is not None and (override.paths is None or path in override.paths):
            return override.status, override.content_type, override.body
        with self._lock:
            if self._state.busy.get(path, 0) > 0:
                self._state.busy[path] -= 1
                return _error(-1)
            if method == "GET" and path == JSCODE2SESSION:
                return self._jscode2session(query)
            if method == "GET" and path == TOKEN:
                return self._token(query)
            if method == "POST" and path == WXACODE:
                return self._wxacode(query, body)
        return 404, "text/plain", b"not found"

    def _credentials_error(self, query) -> int | None:
        if query.get("appid") != self.appid:
            return 40013
        if query.get("secret") != self.secret:
            return 40125
        return None

    def _jscode2session(self, query):
        errcode = self._credentials_error(query)
        if errcode:
            return _error(errcode)
        if query.get("grant_type") != "authorization_code":
            return _error(40002)
        js_code = query.get("js_code", "")
        if js_code in self._state.errors:
            return _error(self._state.errors[js_code])
        login = self._state.logins.get(js_code)
        if login is None:
            return _error(40029)
        if login.used:
            return _error(40163)
        login.used = True
        answer = {"openid": login.openid, "session_key": login.session_key}
        if login.unionid:
            answer["unionid"] = login.unionid
        return _json(answer)

    def _token(self, query):
        errcode = self._credentials_error(query)
        if errcode:
            return _error(errcode)
        if query.get("grant_type") != "client_credential":
            return _error(40002)
        token = f"ACCESS-TOKEN-{len(self._state.issued) + 1}"
        self._state.issued.append(token)
        self._state.tokens.add(token)
        return _json({"access_token": token, "expires_in": self.token_lifetime})

    def _wxacode(self, query, body):
        if query.get("access_token") not in self._state.tokens:
            return _error(40001)
        if not isinstance(body, dict):
            return _error(47001)
        scene = body.get("scene")
        if not isinstance(scene, str) or not 1 <= len(scene) <= 32:
            return _error(40169)
        if body.get("page") not in self.pages:
            return _error(41030)
        return 200, "image/jpeg", fake_jpeg(scene)


def _json(data: dict):
    return 200, "application/json; encoding=utf-8", json.dumps(data).encode()


def _error(errcode: int):
    return _json({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error") + " rid: 0000-test"})


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for every request thread: no thread outlives a test
    block_on_close = True
    fake: FakeWeChat

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout) and closed its socket: nothing to report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        body = None
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"_raw": raw.decode("latin-1")}
        status, content_type, payload = self.server.fake._answer(method, parts.path, query, body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client timed out and left
        self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format, *args) -> None:
        pass
