"""The request class: a streamed body over MAX_CONTENT_LENGTH is 413, as one with a Content-Length is.

A body sent with Transfer-Encoding: chunked has no Content-Length; its size is known only as it is read.
werkzeug guards such a stream with MAX_CONTENT_LENGTH, but a plain read() stops quietly at the limit
and hands back what it has: a JSON body cut short then looked malformed (422) and a form lost its tail.
Here reaching the limit raises 413 unless the body really ends there.
"""

from __future__ import annotations

import functools

import flask
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class _StreamedBody(LimitedStream):
    """At most `limit` bytes of a body of unknown length; one byte more is 413, not the end."""

    def on_exhausted(self) -> None:
        # The server terminates the stream (wsgi.input_terminated), so one more byte can be asked for
        # safely: it tells a body of exactly the limit from a longer one.
        if self._stream.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()  # stops at the limit without asking whether the body goes on
        if self.is_exhausted:
            self.on_exhausted()
        return data


class Request(flask.Request):
    @cached_property
    def stream(self):
        if (self.content_length is None and self.max_content_length is not None and not self.shallow
                and "wsgi.input_terminated" in self.environ):
            return _StreamedBody(self.environ["wsgi.input"], self.max_content_length, is_max=True)
        return super().stream


def has_body(request) -> bool:
    """Whether the request carries a body: a Content-Length above 0, or one sent chunked."""
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


MULTIPART_ALLOWANCE = 64 * 1024  # the form's boundaries, part headers and small fields around one file


def allow_upload(max_file_bytes: int, too_large: type[Exception]):
    """Let one route take a larger body than the app's MAX_CONTENT_LENGTH (which stays the limit of
    every other route, complaint uploads included): the file plus the multipart envelope around it, or
    the app's limit if that is larger. A body over it raises `too_large` (a DomainError class: the contract's
    envelope with the route's own message), whether its Content-Length says so or a chunked stream
    reaches it. Put it above the route's @blp.arguments, which read the form."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            app_limit = flask.current_app.config.get("MAX_CONTENT_LENGTH") or 0
            flask.request.max_content_length = max(app_limit, max_file_bytes + MULTIPART_ALLOWANCE)
            try:
                return fn(*args, **kwargs)
            except RequestEntityTooLarge:
                raise too_large() from None

        return wrapper

    return decorator
