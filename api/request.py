"""The request class: a streamed body over MAX_CONTENT_LENGTH is 413, as one with a Content-Length is.

A body sent with Transfer-Encoding: chunked has no Content-Length; its size is known only as it is read.
werkzeug guards such a stream with MAX_CONTENT_LENGTH, but a plain read() stops quietly at the limit
and hands back what it has: a JSON body cut short then looked malformed (422) and a form lost its tail.
Here reaching the limit raises 413 unless the body really ends there.
"""

from __future__ import annotations

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
