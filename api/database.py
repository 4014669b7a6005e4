"""The database: one SQLAlchemy instance, typed declarative base, UTC timestamps, SQLite pragmas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from select import POLLERR, POLLHUP, POLLIN, poll
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, Table, event, func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    if TYPE_CHECKING:
        __table__: ClassVar[Table]  # every model maps to a table (DeclarativeBase allows any FromClause)


db = SQLAlchemy(model_class=Base)

# The models' base class. Flask-SQLAlchemy builds db.Model at run time (Base plus its mixins: table
# names, Model.query), so a type checker cannot see it as a class; to one, Model is Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model

# What the service functions take as `session`: a Session, or Flask-SQLAlchemy's scoped `db.session`
# (which hands each call on to the request's Session).
SessionLike = Session | scoped_session[Any]


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today_shanghai() -> dt.date:
    """Business dates (licence validity, deadlines) are Beijing dates."""
    return dt.datetime.now(SHANGHAI).date()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL for concurrent readers, foreign keys enforced, wait instead of failing when busy."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Pool, "checkout")
def _discard_closed_connections(dbapi_connection, connection_record, connection_proxy):
    """A pooled PostgreSQL connection that the server has closed (restart, failover, idle timeout,
    pg_terminate_backend) has its goodbye, or end-of-file, waiting on an otherwise quiet socket. Look
    at the socket instead of asking the server (pool_pre_ping would cost a round trip on every
    checkout); the pool replaces a discarded connection with a new one (DisconnectionError)."""
    fileno = getattr(dbapi_connection, "fileno", None)  # psycopg; SQLite has no socket
    if fileno is None:
        return
    try:
        poller = poll()  # not select(): that fails on descriptors above 1023
        poller.register(fileno(), POLLIN | POLLERR | POLLHUP)
        waiting = poller.poll(0)
    except Exception as error:  # closed already: no socket to look at
        raise DisconnectionError("pooled connection is closed") from error
    if waiting:
        raise DisconnectionError("the server closed or wrote to an idle pooled connection")


# Writers of what a transaction collected on the side (api.changes: the feed's records; registry.ready_profiles:
# the profiles' marks), each a function of the session that writes what it holds and returns quickly if
# nothing. One listener flushes first, so that what that flush changes is collected too, then calls them.
_BEFORE_COMMIT: list[Callable[[Session], object]] = []
_Writer = TypeVar("_Writer", bound=Callable[..., object])


def write_before_commit(writer: _Writer) -> _Writer:
    """Register `writer(session)` to run at every commit, after the session's last flush (a decorator)."""
    _BEFORE_COMMIT.append(writer)
    return writer


@event.listens_for(Session, "before_commit")
def _flush_and_write(session: Session) -> None:
    """Commit flushes only after this event: flush here, so the writers see that flush's changes."""
    if not _BEFORE_COMMIT:
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    for writer in _BEFORE_COMMIT:
        writer(session)


def upsert_insert(dialect, table):
    """INSERT for `table` with ON CONFLICT clauses (`on_conflict_do_update/do_nothing`) in `dialect`
    (its name, or an engine or connection): PostgreSQL and SQLite spell them alike."""
    from sqlalchemy.dialects import postgresql, sqlite

    name = dialect if isinstance(dialect, str) else dialect.dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


def lock_rows(session: SessionLike, model, keys=None) -> None:
    """Hold rows of `model` (by id; all of them when `keys` is None) against other writers until the
    transaction ends, for work that reads them and then writes what it computed (a credit
    recomputation): what it reads is then current.

    PostgreSQL: FOR NO KEY UPDATE, in id order, so that two transactions locking overlapping sets
    cannot deadlock. It waits for lock_row() and for another lock_rows(), not for the share lock that
    storing a row which refers to one of them takes (a transaction that has just stored a violation
    can still take it). SQLite: its one write lock, taken as lock_row() does.
    """
    from sqlalchemy import select

    if keys is not None:
        keys = sorted(set(keys))
        if not keys:
            return
    if session.get_bind().dialect.name == "postgresql":
        rows = select(model.id).order_by(model.id).with_for_update(key_share=True)
        session.execute(rows if keys is None else rows.where(model.id.in_(keys)))
    else:
        first = min(keys) if keys is not None else session.scalar(select(func.min(model.id)))
        if first is not None:
            lock_row(session, model, first)


def lock_row(session: SessionLike, model, key, column: str = "id") -> None:
    """Serialise writers on one row until the transaction ends, on both databases.

    PostgreSQL: SELECT … FOR UPDATE. SQLite ignores FOR UPDATE and reads outside the write transaction,
    so there a no-op UPDATE takes the database's single write lock first, and what is read after it is
    current. (Plain SQL, so no `onupdate` timestamp moves.)
    """
    from sqlalchemy import select, text

    attribute = getattr(model, column)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(attribute).where(attribute == key).with_for_update())
    else:
        session.execute(text(f"UPDATE {model.__tablename__} SET {column} = {column} WHERE {column} = :key"),
                        {"key": key})


def one_of(column: str, values) -> str:
    """The SQL of a CHECK constraint that `column` holds one of `values` (the models' status and kind lists)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
