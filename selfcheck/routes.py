"""Self-inspection and commitment endpoints: institutions file and sign; regulators review and record."""

from __future__ import annotations

from flask.views import MethodView

from api import job_routes, spreadsheets
from api.access import ADMIN, INSTITUTION, REGULATORS, check_own_institution
from api.auth import current_account, login_required
from api.context import ID
from api.database import db, today_shanghai
from api.extensions import Blueprint
from api.schemas import page_schema, paginate
from selfcheck import commitments, exports, service, templates
from selfcheck.schemas import (
    CommitmentInSchema,
    CommitmentListArgs,
    CommitmentSchema,
    CommitmentTextSchema,
    RectificationInSchema,
    RectificationSchema,
    ReviewInSchema,
    SelfCheckInSchema,
    SelfCheckListArgs,
    SelfCheckSchema,
    SelfCheckSummarySchema,
    TemplateArgs,
    TemplateInSchema,
    TemplateSchema,
)

blp = Blueprint("selfcheck", __name__, url_prefix="/api/v1",
                description="Self-inspections (依法执业自查) and credit commitments (信用承诺)")
SelfCheckExportArgs = spreadsheets.export_args(SelfCheckListArgs)


@blp.route("/selfcheck/templates")
class Templates(MethodView):
    @blp.arguments(TemplateArgs, location="query", as_kwargs=True)
    @blp.response(200, TemplateSchema(many=True))
    def get(self, category=None):
        """The current checklist templates (latest version of each), optionally for one institution category."""
        return [templates.view(t, category) for t in templates.current(session=db.session, category=category)]

    @login_required(ADMIN)
    @blp.arguments(TemplateInSchema)
    @blp.response(201, TemplateSchema)
    def post(self, data):
        """Publish a new version of a template (admin). Filings keep the version they answered."""
        template = templates.publish(session=db.session, published_by_id=current_account().id, **data)
        db.session.commit()
        return templates.view(template)


@blp.route(f"/selfcheck/templates/<{ID}:template_id>")
class TemplateById(MethodView):
    @blp.response(200, TemplateSchema)
    @blp.error(404, "Unknown template")
    def get(self, template_id):
        """One template version, current or not."""
        return templates.view(templates.get(session=db.session, template_id=template_id))


@blp.route("/selfchecks")
class SelfChecks(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.arguments(SelfCheckListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(SelfCheckSummarySchema))
    def get(self, page, page_size, **filters):
        """Filings: an institution's own; all for regulators, filtered by institution, period, status."""
        statement = service.filing_query(account=current_account(), **filters)
        result = paginate(db.session, statement, page=page, page_size=page_size)
        result["items"] = [service.summary_view(f) for f in result["items"]]
        return result

    @login_required(INSTITUTION)
    @blp.arguments(SelfCheckInSchema)
    @blp.response(201, SelfCheckSchema)
    @blp.error(404, "Unknown template")
    @blp.error(409, "This period has been filed already")
    def post(self, data):
        """File a self-inspection for a period: every item answered, non-compliant ones with a plan."""
        filing = service.file(session=db.session, account=current_account(), **data)
        db.session.commit()
        return service.view(filing)


@blp.route("/selfchecks/export")
class SelfCheckExport(MethodView):
    @blp.doc(responses={**spreadsheets.EXPORT_RESPONSES, **job_routes.ACCEPTED}, parameters=[job_routes.PREFER_HEADER])
    @login_required(*REGULATORS)
    @blp.arguments(SelfCheckExportArgs, location="query", as_kwargs=True)
    def get(self, format, **filters):
        """Export filings as .xlsx or .csv (the list's filters): one row per non-compliant item with its
        rectification, one row for a filing without any. More than 50,000 rows (or `Prefer:
        respond-async`): 202 and a job."""
        account = current_account()
        filings = service.filing_query(account=account, **filters)
        return job_routes.export("selfchecks_export", fmt=format,
                                 count=lambda: job_routes.count_rows(db.session, exports.statement_for(filings)),
                                 build=lambda: _selfcheck_export(session=db.session, account=account, **filters))


def _selfcheck_export(*, session, account, **filters) -> job_routes.ExportSpec:
    rows = exports.rows(session=session, filings=service.filing_query(account=account, **filters))
    return job_routes.ExportSpec("自查不符合项", exports.TITLE, exports.headers, rows, exports.widths)


@blp.route(f"/selfchecks/<{ID}:selfcheck_id>")
class SelfCheckById(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.response(200, SelfCheckSchema)
    @blp.error(404, "Unknown, or another institution's filing")
    def get(self, selfcheck_id):
        """One filing with its answers and rectifications."""
        filing = service.get_visible(session=db.session, account=current_account(), selfcheck_id=selfcheck_id)
        return service.view(filing, service.rectifications_of(session=db.session, filing=filing))


@blp.route(f"/selfchecks/<{ID}:selfcheck_id>/rectifications")
class Rectifications(MethodView):
    @login_required(INSTITUTION)
    @blp.arguments(RectificationInSchema)
    @blp.response(201, RectificationSchema)
    @blp.error(404, "Unknown, or another institution's filing")
    @blp.error(409, "This item's rectification is recorded already")
    def post(self, data, selfcheck_id):
        """Record that a non-compliant item has been put right (date and note)."""
        account = current_account()
        filing = service.get_visible(session=db.session, account=account, selfcheck_id=selfcheck_id)
        rectification = service.record_rectification(session=db.session, filing=filing, account=account, **data)
        db.session.commit()
        return {"item_code": data["item_code"], "done_on": rectification.done_on, "note": rectification.note,
                "recorded_at": rectification.recorded_at}


@blp.route(f"/selfchecks/<{ID}:selfcheck_id>/review")
class Review(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(ReviewInSchema)
    @blp.response(200, SelfCheckSchema)
    @blp.error(404, "Unknown filing")
    @blp.error(409, "INVALID_TRANSITION: reviewed already")
    def post(self, data, selfcheck_id):
        """Accept a filing, or return it with a note for a corrected revision (health officers)."""
        account = current_account()
        service.check_reviewer(account)  # before looking the filing up: 403 whether or not it exists
        filing = service.get_visible(session=db.session, account=account, selfcheck_id=selfcheck_id)
        service.review(session=db.session, filing=filing, account=account, **data)
        db.session.commit()
        return service.view(filing, service.rectifications_of(session=db.session, filing=filing))


@blp.route("/commitments/template")
class CommitmentText(MethodView):
    @blp.response(200, CommitmentTextSchema)
    def get(self):
        """The current standard commitment text, its version and SHA-256."""
        return commitments.current_text()


@blp.route("/commitments")
class Commitments(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.arguments(CommitmentListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(CommitmentSchema))
    def get(self, page, page_size, **filters):
        """Commitments: an institution's own; all for regulators."""
        result = paginate(db.session, commitments.query(account=current_account(), **filters),
                          page=page, page_size=page_size)
        result["items"] = [commitments.view(c, today_shanghai()) for c in result["items"]]
        return result

    @login_required(INSTITUTION)
    @blp.arguments(CommitmentInSchema)
    @blp.response(201, CommitmentSchema)
    @blp.error(409, "A commitment is in force and does not end within 30 days")
    def post(self, data):
        """Sign the current commitment text (the principal or legal representative); valid one year."""
        commitment = commitments.sign(session=db.session, account=current_account(), **data)
        db.session.commit()
        return commitments.view(commitment, today_shanghai())


@blp.route(f"/commitments/<{ID}:commitment_id>")
class CommitmentById(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.response(200, CommitmentSchema)
    @blp.error(404, "Unknown, or another institution's commitment")
    def get(self, commitment_id):
        """One commitment."""
        account = current_account()
        commitment = commitments.get(session=db.session, commitment_id=commitment_id)
        check_own_institution(account, commitment.institution_id, "未找到该信用承诺")
        return commitments.view(commitment, today_shanghai())


# The jobs this package's routes start (api.jobs): collected by the composition root.
JOBS = {"selfchecks_export": job_routes.export_runner(SelfCheckExportArgs, _selfcheck_export)}
