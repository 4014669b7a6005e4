"""The scan's hot path: a code's ready profile (registry.ready_profiles) in one indexed read.

A current document is sent as stored: the JSON bytes and their ETag, or the H5 page, with no ORM object
built and nothing written (the scan counter buffers). Otherwise, a document marked stale by a change,
past its `valid_until`, built by another release, or never built, is built here with public.profile and
stored, unless something changed it again meanwhile (the store is a compare-and-set on `version`, so a
build that read data older than a concurrent change is answered but not kept: the next scan builds
again). A revoked code answers 410 and an unknown one 404 from the same read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import weakref
from dataclasses import dataclass

from flask import current_app, render_template
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import lazyload

from api import policy
from api.database import SHANGHAI, SessionLike, UTCDateTime, upsert_insert, utcnow
from api.errors import CodeRevoked, NotFound
from codes import service as codes
from codes.models import Code
from codes.schemas import ProfileSchema
from public import profile
from registry import ready_profiles
from registry.models import Institution, Staff
from registry.ready_profiles import ReadyProfile
from supervision import service as supervision

# Bump when code changes what a profile shows or how (public.profile, codes.schemas, the labels): the
# documents built before are then built again on their next scan. The page's templates, PUBLIC_BASE_URL
# and the policy versions are part of builder_key() by themselves.
BUILDER_VERSION = "1"
PAGE_TEMPLATES = ("codes/scan.html", "codes/base.html")
UNKNOWN = "未找到此码，请确认是否为本平台发放的二维码"

_PROFILE = ProfileSchema()  # dumping keeps no state: one instance, not one per build
_codes = Code.__table__
_ready = ReadyProfile.__table__


def _read(column):
    """The code by its token (unique index) and its document by primary key, in one Core statement."""
    return (select(_codes.c.id, _codes.c.status, _ready.c.institution_id, _ready.c.version, _ready.c.built_version,
                   _ready.c.builder, _ready.c.valid_until, _ready.c.etag, column)
            .select_from(_codes.outerjoin(_ready, _ready.c.code_id == _codes.c.id))
            .where(_codes.c.token == bindparam("token")))


READ_BODY = _read(_ready.c.body)
READ_PAGE = _read(_ready.c.page)
_STORE = (update(_ready).where(_ready.c.code_id == bindparam("code"), _ready.c.version == bindparam("read_version"))
          .values(built_version=bindparam("read_version"), builder=bindparam("key"), valid_until=bindparam("until", type_=UTCDateTime()),
                  built_at=bindparam("at", type_=UTCDateTime()), etag=bindparam("tag"), body=bindparam("json"), page=bindparam("html")))


class _Reader:
    """The scan's read, compiled once per engine and sent on a pooled DBAPI connection in autocommit.

    A ready scan is this one SELECT and nothing else, so the layers around it are most of its cost: a
    Connection (its begin, rollback and events) and the statement cache lookup cost more CPU than the
    indexed read itself. The SQL is the Core statement above, compiled for the engine's dialect; the
    columns come back through their types' result processors, as Core would return them. Autocommit: on
    PostgreSQL the read is one round trip, not three (BEGIN, the SELECT and the pool's ROLLBACK); psycopg
    switches it on and off without asking the server. SQLite needs none of it: sqlite3 begins no
    transaction for a SELECT, and switching would send two PRAGMAs per scan."""

    def __init__(self, engine, statement):
        self.engine = engine
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = compiled.positional
        self.autocommit = engine.dialect.name != "sqlite"
        self.dbapi_error = engine.dialect.loaded_dbapi.Error
        self.processors = [column.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None)
                           for column in statement.selected_columns]

    def first(self, token: str):
        """The row of `token`, or None. A driver error comes out as SQLAlchemy's (DBAPIError and its
        OperationalError...), as from any other query: the app answers an unreachable database with 503."""
        params = (token,) if self.positional else {"token": token}
        try:
            row = self._fetch(params)
        except self.dbapi_error as error:
            raise DBAPIError.instance(self.sql, params, error, self.dbapi_error, connection_invalidated=True,
                                      dialect=self.engine.dialect) from error
        if row is None:
            return None
        return [value if process is None else process(value) for value, process in zip(row, self.processors, strict=True)]

    def _fetch(self, params):
        connection = self.engine.raw_connection()
        dialect = self.engine.dialect
        try:
            if self.autocommit:
                dialect.set_isolation_level(connection.dbapi_connection, "AUTOCOMMIT")
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(self.sql, params)
                    return cursor.fetchone()
                finally:
                    cursor.close()
            finally:
                if self.autocommit:
                    dialect.reset_isolation_level(connection.dbapi_connection)
        except BaseException:
            connection.invalidate()  # a connection that failed mid-read is not given to the next request
            raise
        finally:
            connection.close()


_READERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _reader(engine, page: bool) -> _Reader:
    readers = _READERS.get(engine)
    if readers is None:
        readers = _READERS[engine] = (_Reader(engine, READ_BODY), _Reader(engine, READ_PAGE))
    return readers[page]


@dataclass(frozen=True)
class Ready:
    code_id: int
    etag: str
    content: bytes  # the JSON answer, or the H5 page
    built: bool  # built by this request (its transaction has writes to commit)


def answer(*, session: SessionLike, token: str, page: bool = False, today: dt.date, base_url: str,
           engine=None) -> Ready:
    """The ready JSON answer (or H5 page) of a token: 404 for an unknown token, 410 for a revoked one.
    `engine`: the session's, given so that a ready scan does not make the (scoped) session at all."""
    if not codes.plausible(token):
        raise NotFound(UNKNOWN)
    row = _reader(engine if engine is not None else session.get_bind(), page).first(token)
    if row is None:
        raise NotFound(UNKNOWN)
    code_id, status, institution_id, version, built_version, builder, valid_until, etag, content = row
    if status != "active":
        raise CodeRevoked()
    key = builder_key()
    if version is not None and built_version == version and builder == key and (
            valid_until is None or utcnow() < valid_until):
        return Ready(code_id, etag, content, built=False)
    built = build(session=session, code_id=code_id, token=token, institution_id=institution_id, today=today,
                  base_url=base_url, key=key)
    return Ready(code_id, built["etag"], built["html"] if page else built["json"], built=True)


def build(*, session: SessionLike, code_id: int, token: str, institution_id: int | None, today: dt.date,
          base_url: str, key: str) -> dict:
    """Build a code's profile and store it if nothing changed it meanwhile; returns what was built.

    The institution's credit is brought up to date first (recomputing it marks this document), and the
    marks are written, before the version is read: the build then starts from the version that covers
    everything it reads. `institution_id`: the document's (None: the code has no document yet)."""
    if institution_id is None:  # a code stored without its document (by hand): give it one
        institution_id = session.scalar(
            select(func.coalesce(Code.institution_id, Staff.institution_id))
            .outerjoin(Staff, Staff.id == Code.staff_id).where(Code.id == code_id))
        session.execute(upsert_insert(session.get_bind(), _ready)
                        .values(code_id=code_id, institution_id=institution_id, version=1)
                        .on_conflict_do_nothing(index_elements=[_ready.c.code_id]))
    supervision.bring_up_to_date(session.get_one(Institution, institution_id, options=[lazyload(Institution.code)]))
    ready_profiles.write_marks(session)
    read_version = session.scalar(select(_ready.c.version).where(_ready.c.code_id == code_id))
    shown = profile.scan(session=session, token=token, today=today, base_url=base_url)
    until = shown.pop("_valid_until")
    shown.pop("_code_id")
    body = json.dumps(_PROFILE.dump(shown), ensure_ascii=False, separators=(",", ":")).encode()
    built = {"json": body, "etag": hashlib.sha256(body).hexdigest()[:32],
             "html": render_template("codes/scan.html", p=shown, labels=profile.LABELS, tz=SHANGHAI).encode()}
    session.execute(_STORE, {"code": code_id, "read_version": read_version, "key": key, "until": until,
                             "at": utcnow(), "tag": built["etag"], "json": built["json"], "html": built["html"]})
    return built


def builder_key() -> str:
    """What a stored document was built by: BUILDER_VERSION, the page's templates, PUBLIC_BASE_URL (in
    every link) and the policy versions (the windows and modes shown). Worked out once per process."""
    key = current_app.extensions.get("ready_profile_builder")
    if key is None:
        env = current_app.jinja_env
        sources = [env.loader.get_source(env, name)[0] for name in PAGE_TEMPLATES]  # type: ignore[union-attr]
        parts = [BUILDER_VERSION, current_app.config["PUBLIC_BASE_URL"], repr(policy.book().versions), *sources]
        key = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
        current_app.extensions["ready_profile_builder"] = key
    return key


def build_all(*, session: SessionLike, today: dt.date, base_url: str, batch: int = 500) -> int:
    """Build every active code's document that is not current, committing every `batch` (a release
    that changed BUILDER_VERSION or the templates; a new database warmed before it is scanned). Scans
    build them anyway, one at a time; this only moves that work off the first scans. Returns how many."""
    key, built, last = builder_key(), 0, 0
    while True:
        now = utcnow()
        due = session.execute(
            select(_codes.c.id, _codes.c.token, _ready.c.institution_id)
            .select_from(_codes.outerjoin(_ready, _ready.c.code_id == _codes.c.id))
            .where(_codes.c.status == "active", _codes.c.id > bindparam("after"),
                   (_ready.c.code_id.is_(None)) | (_ready.c.built_version.is_(None))
                   | (_ready.c.built_version != _ready.c.version) | (_ready.c.builder != key)
                   | (_ready.c.valid_until <= now))
            .order_by(_codes.c.id).limit(batch), {"after": last}).all()
        if not due:
            return built
        for code_id, token, institution_id in due:
            build(session=session, code_id=code_id, token=token, institution_id=institution_id, today=today,
                  base_url=base_url, key=key)
            last = code_id
        session.commit()
        built += len(due)
