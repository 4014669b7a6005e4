"""Ready profiles: the public answer behind each code, stored ready to send, and what marks it stale.

`public.ready` builds a code's profile (the JSON answer, its ETag, the H5 page) and stores it here, so a
scan is one indexed read of ready bytes in whichever worker answers it. A document is current while
`built_version == version`, it was built by this release's builder (`builder`), and `valid_until` (the
first moment the date alone changes what it shows: a licence starts expiring, a commitment lapses, the
credit snapshot goes stale, an inspection leaves the public window) has not passed; otherwise the next
scan builds it again.

Anything that changes what a profile shows bumps `version` of every document of the institution (its
own code and its staff's: each shows the other), in the writer's transaction:

- writes through the ORM to the rows a profile shows (the institution, its staff, a commitment, an
  inspection, a violation: `shown_on_profiles()`) are noticed at flush;
- set-based writers (the credit recomputation, `registry.credit_snapshot`, issuing a code) call
  `mark_stale()`.

The marks are collected while the transaction runs and written just before it commits, in one
set-based UPDATE (an executemany in institution order): the documents' rows are then always locked
last, after whatever a writer locked before (the institution, for a credit recomputation), so two
transactions cannot wait on each other through them. A rolled-back transaction marks nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from itertools import chain
from operator import attrgetter

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, bindparam, event, update
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from api.database import Model, SessionLike, UTCDateTime, write_before_commit
from registry.models import Institution, Staff

PENDING = "ready_profiles.stale_institutions"  # Session.info key: institutions marked in this transaction


class ReadyProfile(Model):
    """The public profile behind one code, ready to send (see the module's docstring). A row exists for
    every code from its issue on (the migration added one, unbuilt, for each code it found)."""

    __tablename__ = "ready_profiles"

    code_id: Mapped[int] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), primary_key=True)
    # The institution whose facts it shows (its own code, or its staff member's): what marks it stale.
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every change to what it shows
    built_version: Mapped[int | None] = mapped_column(Integer)  # the version `body` was built at
    builder: Mapped[str | None] = mapped_column(String(16))  # public.ready.builder_key() that built it
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # None: only a change ends it
    built_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    etag: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)  # the JSON answer of GET /api/v1/scan/{token}
    page: Mapped[bytes | None] = mapped_column(LargeBinary)  # the H5 page /c/{token} (UTF-8 HTML)


# ---- marking --------------------------------------------------------------------------------------

def mark_stale(session: SessionLike, institution_ids: Iterable[int | None]) -> None:
    """Every profile of these institutions (their own code's and their staff's) is built again on its
    next scan, once this transaction commits."""
    pending: set[int] = session.info.setdefault(PENDING, set())
    pending.update(institution_id for institution_id in institution_ids if institution_id is not None)


@write_before_commit
def write_marks(session: SessionLike) -> int:
    """Write the marks collected so far (before_commit does; public.ready does it earlier, before it
    reads the version it builds). Returns how many institutions were marked."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return 0
    table = ReadyProfile.__table__
    session.execute(update(table).where(table.c.institution_id == bindparam("institution"))
                    .values(version=table.c.version + 1),
                    [{"institution": institution_id} for institution_id in sorted(pending)])
    return len(pending)


# ---- writes through the ORM -----------------------------------------------------------------------

_SHOWN: dict[type, Callable[[object], int | None]] = {}


def shown_on_profiles(*models: type, institution_id: Callable[[object], int | None] = attrgetter("institution_id")) -> None:
    """Declare rows of `models` part of what profiles show: inserting, changing or deleting one through
    the ORM marks its institution's profiles (`institution_id` tells which institution a row is of)."""
    for model in models:
        _SHOWN[model] = institution_id


shown_on_profiles(Institution, institution_id=attrgetter("id"))
shown_on_profiles(Staff)


@event.listens_for(Session, "after_flush")
def _notice_changes(session: Session, _flush_context) -> None:
    """After a flush (the new, dirty and deleted sets still as they were): the institutions of the rows
    profiles show that were inserted, changed or deleted."""
    if not _SHOWN:
        return
    changed = [row for row in chain(session.new, session.deleted) if type(row) in _SHOWN]
    changed += [row for row in session.dirty
                if type(row) in _SHOWN and session.is_modified(row, include_collections=False)]
    if changed:
        mark_stale(session, (_SHOWN[type(row)](row) for row in changed))


@event.listens_for(Session, "after_transaction_end")
def _forget_marks(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended: written marks were popped; a rollback's are dropped."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)
