"""Supervision endpoints: inspection leads so far."""

from __future__ import annotations

from flask.views import MethodView

from api.auth import current_account, login_required
from api.context import ID
from api.database import db
from api.errors import NotFound
from api.extensions import Blueprint
from api.models import REGULATOR_ROLES
from api.schemas import paginate, page_schema
from supervision import leads
from supervision.models import Lead
from supervision.schemas import DismissSchema, LeadListArgs, LeadSchema, RefreshResultSchema

blp = Blueprint("supervision", __name__, url_prefix="/api/v1", description="Supervision: leads, credit, inspections")


@blp.route("/leads")
class Leads(MethodView):
    @login_required(*REGULATOR_ROLES)
    @blp.arguments(LeadListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(LeadSchema))
    def get(self, page, page_size, **filters):
        """Inspection leads, highest score first (open ones unless `status` says otherwise)."""
        result = paginate(db.session, leads.lead_query(**filters), page=page, page_size=page_size)
        result["items"] = [leads.lead_view(lead) for lead in result["items"]]
        return result


@blp.route("/leads/refresh")
class RefreshLeads(MethodView):
    @login_required("supervisor", "admin")
    @blp.response(200, RefreshResultSchema)
    def post(self):
        """Turn passed self-inspection deadlines into leads now (the daily `flask refresh-leads` job)."""
        from selfcheck import service as selfcheck  # selfcheck feeds supervision, not the other way round

        changed = selfcheck.sweep_leads(session=db.session)
        db.session.commit()
        return {"institutions": changed}


@blp.route(f"/leads/<{ID}:lead_id>/dismiss")
class DismissLead(MethodView):
    @login_required("supervisor", "admin")
    @blp.arguments(DismissSchema)
    @blp.response(200, LeadSchema)
    @blp.error(404, "Unknown lead")
    @blp.error(409, "INVALID_TRANSITION: the lead is closed already")
    def post(self, data, lead_id):
        """Dismiss an open lead with a note (supervisors): nothing to inspect."""
        lead = db.session.get(Lead, lead_id)
        if lead is None:
            raise NotFound("未找到该线索")
        leads.dismiss(session=db.session, lead=lead, by_id=current_account().id, note=data["note"])
        db.session.commit()
        return leads.lead_view(lead)
