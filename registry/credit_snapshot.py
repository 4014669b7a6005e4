"""The credit snapshot that institution rows carry (`credit_*` columns, written by supervision.credit).

Packages below supervision change what credit is computed from (a lead turns high priority, a commitment
is signed) without knowing how it is computed: they mark the snapshot stale, and its next reader
recomputes it (supervision.service for one institution, supervision.credit.refresh_stale for lists,
draws and exports), in the same transaction as whatever it then shows. Its profiles are marked stale
with it (registry.ready_profiles): the next scan recomputes the credit and shows it."""

from __future__ import annotations

from sqlalchemy import update

from api.database import SessionLike, utcnow
from registry.models import Institution
from registry.ready_profiles import mark_stale


def mark_credit_stale(*, session: SessionLike, institution_id: int) -> None:
    """Recompute the institution's credit when it is next read (an ORM UPDATE, so a loaded row sees it),
    and its profiles on their next scan."""
    session.execute(update(Institution).where(Institution.id == institution_id).values(credit_stale_after=utcnow()))
    mark_stale(session, [institution_id])
