"""The changes feed (API.md, "Oversight and data out"): every change another system may mirror, numbered
in commit order, so that a reader following `next` never skips or repeats one.

Capture. The model layer declares what it wants in the feed with `track()` next to its models: rows of a
tracked class inserted, changed or deleted through the ORM are noticed at flush (`after_flush`, as
registry.ready_profiles notices what profiles show). Set-based writers (Core INSERT/UPDATE: the credit
recomputation, revoking a code, the complaint intake) call `record()`. Both collect one entry per
(type, id) in the transaction (the last op and time win) and write them just before it commits, in one
INSERT; a rolled-back transaction, or savepoint, writes nothing of what it recorded.

Numbering. A change row is written with `seq` NULL. A reader numbers the committed rows that have none
(`sequence()`), from the largest `seq` so far, in batches, under one lock, and then reads `seq > since`.
A row gets its number only once its transaction has committed and only ever from a counter that grows,
so a number handed out is never followed by a smaller one: a transaction that commits late is numbered
late. A number assigned at insert (a bigserial) would not do: A takes 5, B takes 6 and commits first, a
reader sees 6, and 5 appears later behind its cursor. See docs/decisions.md, "The changes feed".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    event,
    func,
    insert,
    inspect,
    literal_column,
    null,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from api.database import Model, SessionLike, UTCDateTime, one_of, utcnow, write_before_commit

# The kinds of change, what `id` names, and where a mirror reads the current state. Stable: a mirror
# switches on them. Add new ones at the end; never rename one. An API client (changes:read) reads
# GET /institutions/{id}, and with credit:read GET /institutions/{id}/credit and the penalty export
# (GET /exports/penalties); the other paths named here are for regulators' accounts, and a client learns
# of those changes without their content (the public scan, /public/inspections and Open311's
# /requests/{tracking_no}.json show what is public of them).
TYPES = {
    "institution": "an institution's record (created or changed; its code issued or revoked): "
                   "`id` is the institution's id, GET /institutions/{id}",
    "staff": "a staff member's record or credit (created or changed; their code issued or revoked): "
             "`id` is the staff id, GET /staff/{id}",
    "code": "a code issued or revoked: `id` is the code's row, `ref` its token (GET /codes/{token}/image); "
            "its subject's record changes with it",
    "credit": "an institution's credit (grade, points, band, risk, supervision mode, lists): `id` is the "
              "institution's id, GET /institutions/{id}/credit",
    "inspection": "an inspection record (recorded, findings added, reviewed, evidence added): `id` is the "
                  "inspection's id, GET /inspections/{id}",
    "penalty": "the approved penalty of an inspection record (法制审核 passed, or its decision number or "
               "publicity changed): `id` is the inspection's id",
    "list": "a listing on the red, black or key list: `upsert` when the institution enters the list, `delete` "
            "when it leaves it; `id` is the listing's id",
    "complaint": "a complaint's status (submitted, then each transition; never its content): `id` is the "
                 "case's row, `ref` its tracking number (GET /complaints/{tracking_no})",
}
OPS = ("upsert", "delete")
SEQUENCE_BATCH = 5000  # the most changes one read numbers: the rest wait for the next read
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
EARLY_WRITE = 10_000  # recorded changes a transaction holds before writing them (bounds an import's memory)
WRITE_CHUNK = 5_000  # rows per INSERT when they are written
_LOCK = 0x6F6E65636F6465  # pg_advisory_xact_lock key of the numbering ("onecode")

PENDING = "changes.pending"  # Session.info: {(type, id): (op, at, ref)} recorded in this transaction
_UNDO = "changes.undo"  # [(key, what PENDING held before)] while a savepoint is open
_MARKS = "changes.marks"  # {savepoint: len(undo) when it began}
_ENDED = "changes.ended"  # (savepoint, its mark): the last savepoint that ended, in case it rolled back
_MISSING = object()

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite numbers only INTEGER PRIMARY KEY rows


class Change(Model):
    """One change to mirror: (type, entity_id) changed (`op`) at `at`; `seq` once numbered."""

    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint(one_of("type", TYPES), name="type"),
        CheckConstraint(one_of("op", OPS), name="op"),
        Index("uq_changes_seq", "seq", unique=True),  # the reader's `seq > since ORDER BY seq`
        Index("ix_changes_unnumbered", "id", sqlite_where=text("seq IS NULL"),
              postgresql_where=text("seq IS NULL")),  # what the next read numbers: only those rows
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)  # insert order; numbered in this order
    seq: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)  # the feed's `id`
    ref: Mapped[str | None] = mapped_column(String(32))  # a code's token, a complaint's tracking number
    op: Mapped[str] = mapped_column(String(8))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


_changes = Change.__table__


# ---- recording ------------------------------------------------------------------------------------

def record(session: SessionLike, type_: str, ids: Iterable[int | None], *, op: str = "upsert",
           at: dt.datetime | None = None, ref: Callable[[int], str | None] | None = None) -> None:
    """Set-based writers: these rows of `type_` changed in this transaction (written at commit)."""
    assert type_ in TYPES and op in OPS, (type_, op)
    at = at or utcnow()
    for entity_id in ids:
        if entity_id is not None:
            _put(session, (type_, entity_id), (op, at, ref(entity_id) if ref else None))


def _put(session: SessionLike, key: tuple[str, int], value: tuple) -> None:
    info = session.info
    if not info.get(PENDING):  # the first record: in a transaction, so that its end (or rollback) is heard
        session.connection()
    pending = info.setdefault(PENDING, {})
    if info.get(_MARKS):  # inside a savepoint: remember how to take it back
        info.setdefault(_UNDO, []).append((key, pending.get(key, _MISSING)))
    pending[key] = value
    if len(pending) >= EARLY_WRITE and not info.get(_MARKS):
        # A city-sized import: write what it recorded now, in its transaction, rather than hold it all
        # until commit; never inside a savepoint, whose rollback must take its records back. A row
        # changed again later is written again: two items that say "read it again", never a lost one.
        write(session, session.connection())


def record_cte(type_: str, id_column, at_column, ref_column=None):
    """PostgreSQL statements of CTEs that store rows (the complaint intake): the INSERT that records a
    change for each row, to add to the same statement (no round trip of its own, no entry in PENDING)."""
    assert type_ in TYPES, type_  # inlined, as constants in a CTE must be (PostgreSQL types no bound one)
    return insert(_changes).from_select(
        ["type", "entity_id", "ref", "op", "at"],
        select(literal_column(f"'{type_}'"), id_column, ref_column if ref_column is not None else null(),
               literal_column("'upsert'"), at_column))


@write_before_commit
def write(session: SessionLike, connection=None) -> int:
    """Write what this transaction recorded (before_commit does), WRITE_CHUNK rows per INSERT so that a
    city-sized import's changes never sit in memory twice. Returns how many rows."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return 0
    execute = session.execute if connection is None else connection.execute
    items = iter(pending.items())
    while chunk := list(islice(items, WRITE_CHUNK)):
        execute(insert(_changes), [{"type": type_, "entity_id": entity_id, "op": op, "at": at, "ref": ref}
                                   for (type_, entity_id), (op, at, ref) in chunk])
    return len(pending)


# ---- writes through the ORM -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Rule:
    type: str
    key: Callable[[Any], int | None]
    ref: Callable[[Any], str | None] | None
    columns: frozenset[str] | None  # a change to one of these counts (None: to any column not ignored)
    ignore: frozenset[str]
    part: bool  # the row is part of what `key` names: inserting, changing or deleting it is an upsert
    op: Callable[[Any], str] | None  # the op of an inserted or changed row (default upsert)
    when: Callable[[Any], bool] | None  # only rows for which this holds


_RULES: dict[type, list[_Rule]] = {}


def track(model: type, type_: str, *, key: Callable[[Any], int | None] = attrgetter("id"),
          ref: Callable[[Any], str | None] | None = None, columns: Iterable[str] | None = None,
          ignore: Iterable[str] = ("updated_at",), part: bool = False, op: Callable[[Any], str] | None = None,
          when: Callable[[Any], bool] | None = None) -> None:
    """Put ORM writes to rows of `model` in the feed as changes of `type_` (see _Rule for the options).
    Call it beside the model, so that loading the model is enough for its writes to be noticed."""
    assert type_ in TYPES, type_
    _RULES.setdefault(model, []).append(_Rule(type_, key, ref, frozenset(columns) if columns is not None else None,
                                              frozenset(ignore), part, op, when))


def _changed_columns(row) -> set[str]:
    state = inspect(row)
    return {attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes()}


def _put_row(session: Session, rule: _Rule, row, op: str, at: dt.datetime) -> None:
    if rule.when is not None and not rule.when(row):
        return
    entity_id = rule.key(row)
    if entity_id is not None:
        _put(session, (rule.type, entity_id), (op, at, rule.ref(row) if rule.ref else None))


@event.listens_for(Session, "after_flush")
def _notice_changes(session: Session, _flush_context) -> None:
    """After a flush (the new, dirty and deleted sets still as they were): the tracked rows it wrote."""
    if not _RULES:
        return
    at = utcnow()
    for row in session.new:
        for rule in _RULES.get(type(row), ()):
            _put_row(session, rule, row, rule.op(row) if rule.op and not rule.part else "upsert", at)
    for row in session.dirty:
        rules = _RULES.get(type(row))
        if not rules:
            continue
        changed = _changed_columns(row)
        for rule in rules:
            if changed & rule.columns if rule.columns is not None else changed - rule.ignore:
                _put_row(session, rule, row, rule.op(row) if rule.op and not rule.part else "upsert", at)
    for row in session.deleted:
        for rule in _RULES.get(type(row), ()):
            _put_row(session, rule, row, "upsert" if rule.part else "delete", at)


# ---- savepoints: what one recorded goes if it rolls back ------------------------------------------

@event.listens_for(Session, "after_transaction_create")
def _savepoint_begins(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_UNDO, ()))


@event.listens_for(Session, "after_transaction_end")
def _transaction_ends(session: Session, transaction: SessionTransaction) -> None:
    """A savepoint's mark is kept until we know whether it rolled back (after_soft_rollback comes after
    this event); the outermost transaction's end drops everything (written already, or rolled back)."""
    if transaction.nested:
        mark = session.info.get(_MARKS, {}).pop(transaction, None)
        session.info[_ENDED] = (transaction, mark)
    elif transaction.parent is None:
        for key in (PENDING, _UNDO, _MARKS, _ENDED):
            session.info.pop(key, None)


@event.listens_for(Session, "after_soft_rollback")
def _savepoint_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    ended = session.info.pop(_ENDED, None)
    if not previous_transaction.nested or ended is None or ended[0] is not previous_transaction or ended[1] is None:
        return
    undo, pending = session.info.get(_UNDO, []), session.info.get(PENDING, {})
    while len(undo) > ended[1]:
        key, before = undo.pop()
        if before is _MISSING:
            pending.pop(key, None)
        else:
            pending[key] = before


# ---- numbering and reading ------------------------------------------------------------------------

def sequence(session: SessionLike, *, batch: int = SEQUENCE_BATCH) -> int:
    """Number committed changes that have no `seq` yet, in insert order, after the largest `seq` so far:
    at most `batch` of them. Returns how many. Only one transaction numbers at a time (PostgreSQL: a
    transaction-level advisory lock; SQLite: its one write lock); the caller commits, which releases it.
    A reader that waited for another then finds that one's numbers, so a read sees every change that
    had committed when it began (up to `batch`)."""
    if session.scalar(select(_changes.c.id).where(_changes.c.seq.is_(None)).limit(1)) is None:
        return 0  # nothing to number: no lock taken, nothing written
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_LOCK)))
    else:  # take the write lock before reading the largest seq (as directory.imports does)
        session.execute(text("UPDATE changes SET seq = seq WHERE 0 = 1"))
    top = session.scalar(select(func.coalesce(func.max(_changes.c.seq), 0)))
    chosen = (select(_changes.c.id).where(_changes.c.seq.is_(None)).order_by(_changes.c.id).limit(batch)
              .subquery("chosen"))
    numbered = select(chosen.c.id, func.row_number().over(order_by=chosen.c.id).label("n")).subquery("numbered")
    result = session.execute(update(_changes).where(_changes.c.id == numbered.c.id)
                             .values(seq=numbered.c.n + top).execution_options(synchronize_session=False))
    return result.rowcount  # type: ignore[attr-defined]


def read(session: SessionLike, *, since: int, limit: int = DEFAULT_LIMIT) -> dict:
    """The feed's page after `since`: number what has committed since the last read, then read."""
    sequence(session)
    rows = session.execute(select(_changes.c.seq, _changes.c.type, _changes.c.entity_id, _changes.c.ref,
                                  _changes.c.op, _changes.c.at)
                           .where(_changes.c.seq > since).order_by(_changes.c.seq).limit(limit)).all()
    items = [{"seq": row.seq, "type": row.type, "id": row.entity_id, "ref": row.ref, "op": row.op, "at": row.at}
             for row in rows]
    return {"items": items, "next": items[-1]["seq"] if items else since}

