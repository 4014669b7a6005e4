"""The changes feed over HTTP (API.md, "Oversight and data out"): GET /api/v1/changes?since=&limit=.

Who may read it is decided in one place, `READERS` and `READER_SCOPES` below (regulators; API clients with the
`changes:read` scope). What is captured and how it is numbered is api.changes.

Before reading, the route runs the composition root's catch-up (`CATCH_UP` in app.extensions: the credit
snapshots that went stale are recomputed, so a change that becomes due with time is in the feed without
waiting for the daily recomputation), committed on its own, so what it records is numbered by this read.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api import changes, clients
from api.access import REGULATORS
from api.auth import login_required
from api.database import db
from api.extensions import Blueprint
from api.schemas import StrictSchema

blp = Blueprint("changes", __name__, url_prefix="/api/v1",
                description="The changes feed: every change another system may mirror, in commit order")

# Who reads the feed: officers, supervisors and admins, and API clients with the `changes:read` scope
# (a provincial platform mirroring the directory).
READERS = REGULATORS
READER_SCOPES = (clients.CHANGES_READ,)
CATCH_UP = "changes.catch_up"  # app.extensions: fn(session) run (and committed) before each read
MAX_SEQ = 2**63 - 1


class ChangesArgs(StrictSchema):
    since = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_SEQ), metadata={
        "description": "the last `seq` seen (the `next` of the previous page); 0 for everything"})
    limit = fields.Integer(load_default=changes.DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=changes.MAX_LIMIT), metadata={
                               "description": f"items per page: default {changes.DEFAULT_LIMIT}, "
                                              f"at most {changes.MAX_LIMIT}"})


class ChangeSchema(Schema):
    seq = fields.Integer(required=True, metadata={"description": "strictly increasing, in commit order"})
    type = fields.String(required=True, metadata={
        "enum": list(changes.TYPES),
        "description": "; ".join(f"`{name}`: {meaning}" for name, meaning in changes.TYPES.items())})
    id = fields.Integer(required=True, metadata={"description": "what changed, by `type` (see `type`)"})
    ref = fields.String(allow_none=True, metadata={
        "description": "the key the API uses where it is not `id`: a code's token, a complaint's tracking "
                       "number; null for the other types"})
    op = fields.String(required=True, metadata={
        "enum": list(changes.OPS),
        "description": "`upsert`: read the current state; `delete`: it is gone (a listing: it left the list)"})
    at = fields.DateTime(required=True, metadata={"description": "when the change was made"})


class ChangesPageSchema(Schema):
    items = fields.List(fields.Nested(ChangeSchema), required=True)
    next = fields.Integer(required=True, metadata={
        "description": "pass as `since` for the next page: the last item's `seq`, or `since` when there "
                       "was none (nothing new yet: ask again later)"})


@blp.route("/changes")
class Changes(MethodView):
    @login_required(*READERS, scopes=READER_SCOPES)
    @blp.arguments(ChangesArgs, location="query", as_kwargs=True)
    @blp.response(200, ChangesPageSchema)
    def get(self, since, limit):
        """The changes feed: what changed after `since`, in commit order; follow `next`.

        A reader that passes each answer's `next` as the next `since` sees every committed change once
        and never one that was rolled back, whatever writers do meanwhile. An item says what changed,
        never its content: read the current state from the endpoint its `type` names."""
        catch_up = current_app.extensions.get(CATCH_UP)
        if catch_up is not None:
            catch_up(db.session)
            db.session.commit()
        page = changes.read(db.session, since=since, limit=limit)
        db.session.commit()  # the numbers this read assigned (and the lock it took, released)
        return page
