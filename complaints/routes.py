"""Complaint endpoints: public intake and tracking; the regulators' workflow."""

from __future__ import annotations

from flask import current_app, send_file
from flask.views import MethodView

from api import job_routes, spreadsheets
from api.access import CITIZEN, INSTITUTION, REGULATORS, STAFF
from api.auth import current_account, login_required
from api.context import ID
from api.database import db
from api.extensions import Blueprint, limiter, query_code_limit
from api.schemas import PageArgs, page_schema, paginate
from complaints import attachments, exports, intake, service
from complaints.schemas import (
    ActionInSchema,
    AttachmentSchema,
    CategoryArgs,
    CategorySchema,
    ComplaintInSchema,
    ComplaintListArgs,
    ComplaintSchema,
    ComplaintSummarySchema,
    IdempotencyHeaderSchema,
    RatingInSchema,
    ReceiptSchema,
    TrackArgs,
    TrackingSchema,
    UploadFileSchema,
    UploadFormSchema,
)

blp = Blueprint("complaints", __name__, url_prefix="/api/v1", description="Complaints and reports (投诉举报)")
TRACKING_NO = "string(length=16)"  # TS + date + six digits; anything else is a plain 404
ComplaintExportArgs = spreadsheets.export_args(ComplaintListArgs)


def _limit(name):
    return lambda: current_app.config[name]


@blp.route("/complaints/categories")
class Categories(MethodView):
    @blp.arguments(CategoryArgs, location="query", as_kwargs=True)
    @blp.response(200, CategorySchema(many=True))
    def get(self, include_retired):
        """Complaint categories, the department each goes to (and those co-handling it), and each one's
        extra form fields; retired ones only on request."""
        return intake.list_categories(session=db.session, include_retired=include_retired)


@blp.route("/complaints")
class Complaints(MethodView):
    decorators = [limiter.limit(_limit("COMPLAINT_RATE_LIMIT"), methods=["POST"])]

    @login_required(*REGULATORS, INSTITUTION)
    @blp.arguments(ComplaintListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(ComplaintSummarySchema))
    def get(self, page, page_size, **filters):
        """List complaints: a department's own (officers, supervisors), all (admin), or an institution's
        resolved ones about itself, without complainant data."""
        account = current_account()
        statement = service.complaint_query(session=db.session, account=account, **filters)
        result = paginate(db.session, statement, page=page, page_size=page_size)
        for_institution = account.role == INSTITUTION
        result["items"] = [service.summary_view(c, for_institution=for_institution) for c in result["items"]]
        return result

    @login_required(optional=True)
    @blp.arguments(IdempotencyHeaderSchema, location="headers", as_kwargs=True)
    @blp.arguments(ComplaintInSchema)
    @blp.response(201, ReceiptSchema)
    @blp.error(409, "Idempotency-Key already used with another body")
    @blp.error(429, "RATE_LIMITED")
    def post(self, data, idempotency_key=None):
        """Submit a complaint (public; a citizen's token links it to the account). Anonymous if wished."""
        account = current_account(optional=True)
        account_id = account.id if account and account.role == CITIZEN else None
        return intake.submit_once(session=db.session, data=data, account_id=account_id,
                                  idempotency_key=idempotency_key, secret=current_app.config["SECRET_KEY"]).receipt


@blp.route("/complaints/export")
class ComplaintExport(MethodView):
    @blp.doc(responses={**spreadsheets.EXPORT_RESPONSES, **job_routes.ACCEPTED}, parameters=[job_routes.PREFER_HEADER])
    @login_required(*REGULATORS)
    @blp.arguments(ComplaintExportArgs, location="query", as_kwargs=True)
    def get(self, format, **filters):
        """Export complaints as .xlsx or .csv, with the list's visibility and filters. The complainant's
        name and phone only for the exporting department's own cases; exporting them is audited. More
        than 50,000 rows (or `Prefer: respond-async`): 202 and a job, whose file is audited when downloaded."""
        account = current_account()
        statement = exports.statement_for(session=db.session, account=account, **filters)
        export = exports.Export.of(account, filters)

        def delivered(complete: bool) -> None:  # after the last byte: the audit entry, committed on its own
            exports.record_delivery(session=db.session, export=export, complete=complete)
            db.session.commit()

        return job_routes.export("complaints_export", fmt=format,
                                 count=lambda: job_routes.count_rows(db.session, statement),
                                 build=lambda: _complaint_export(session=db.session, account=account, export=export,
                                                                 **filters),
                                 on_end=delivered)


def _complaint_export(*, session, account, export=None, **filters) -> job_routes.ExportSpec:
    """The spreadsheet of the route's answer and of its job; `export` counts the rows with a contact."""
    statement = exports.statement_for(session=session, account=account, **filters)
    export = export or exports.Export.of(account, filters)
    rows = exports.rows(session=session, export=export, statement=statement)
    return job_routes.ExportSpec("投诉举报", exports.TITLE, exports.headers, rows, exports.widths,
                                 audit=lambda: exports.delivery_entry(export))


@blp.route("/complaints/track")
class Track(MethodView):
    decorators = [query_code_limit()]

    @blp.arguments(TrackArgs, location="query", as_kwargs=True)
    @blp.response(200, TrackingSchema)
    @blp.error(404, "Unknown tracking number or wrong query code (the same answer)")
    @blp.error(429, "RATE_LIMITED")
    def get(self, tracking_no, query_code):
        """Track a complaint with its tracking number and query code (public)."""
        complaint = intake.find_with_code(session=db.session, tracking_no=tracking_no, query_code=query_code)
        return service.tracking_view(complaint)


@blp.route(f"/complaints/<{TRACKING_NO}:tracking_no>/rating")
class Rating(MethodView):
    decorators = [query_code_limit()]

    @blp.arguments(RatingInSchema)
    @blp.response(200, TrackingSchema)
    @blp.error(404, "Unknown tracking number or wrong query code (the same answer)")
    @blp.error(409, "INVALID_TRANSITION: not replied yet, or already rated")
    @blp.error(429, "RATE_LIMITED")
    def post(self, data, tracking_no):
        """Rate the handling (1–5), once the case has been replied to."""
        complaint = service.rate(session=db.session, tracking_no=tracking_no, **data)
        db.session.commit()
        return service.tracking_view(complaint)


@blp.route(f"/complaints/<{TRACKING_NO}:tracking_no>/attachments")
class Attachments(MethodView):
    # Each upload checks the query code (the shared bucket) and costs storage and image cleaning (its own).
    decorators = [query_code_limit(), limiter.limit(_limit("UPLOAD_RATE_LIMIT"))]

    @blp.arguments(UploadFormSchema, location="form", as_kwargs=True)
    @blp.arguments(UploadFileSchema, location="files", as_kwargs=True)
    @blp.response(201, AttachmentSchema)
    @blp.error(404, "Unknown tracking number or wrong query code (the same answer)")
    @blp.error(409, "Six attachments already, or the case is closed")
    @blp.error(413, "PAYLOAD_TOO_LARGE: over 10 MB")
    @blp.error(429, "RATE_LIMITED")
    @blp.error(503, "UNAVAILABLE: the file could not be stored now, or the database is busy (Retry-After); "
                    "the case is unchanged")
    def post(self, tracking_no, query_code, file):
        """Attach a photo or document (JPEG, PNG or PDF by content; 10 MB at most; 6 per case)."""
        complaint = intake.find_with_code(session=db.session, tracking_no=tracking_no, query_code=query_code)
        data = file.stream.read(attachments.MAX_BYTES + 1)
        attachment, created = attachments.attach(session=db.session, complaint=complaint, data=data,
                                                 filename=file.filename,
                                                 upload_dir=current_app.config["UPLOAD_DIR"])
        db.session.commit()
        return attachment, 201 if created else 200


@blp.route(f"/complaints/<{TRACKING_NO}:tracking_no>/attachments/<{ID}:attachment_id>")
class AttachmentFile(MethodView):
    @login_required(*STAFF)
    @blp.doc(responses={"200": {"description": "The file, as stored (image metadata removed)",
                                "content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}}})
    @blp.error(404, "Unknown or not visible")
    def get(self, tracking_no, attachment_id):
        """Download an attachment (the handling department only; each download is audited)."""
        attachment = service.attachment_for_download(session=db.session, account=current_account(),
                                                     tracking_no=tracking_no, attachment_id=attachment_id)
        db.session.commit()
        extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}[attachment.content_type]
        response = send_file(attachments.path_of(current_app.config["UPLOAD_DIR"], attachment.sha256),
                             mimetype=attachment.content_type, as_attachment=True,
                             download_name=f"{tracking_no}-{attachment.id}.{extension}", max_age=0)
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@blp.route(f"/complaints/<{TRACKING_NO}:tracking_no>")
class ComplaintByNumber(MethodView):
    @login_required(*REGULATORS, INSTITUTION)
    @blp.response(200, ComplaintSchema)
    @blp.error(404, "Unknown, or not this department's (or institution's) case")
    def get(self, tracking_no):
        """The full case and its timeline. Reading the complainant's contact is audited."""
        account = current_account()
        complaint = service.get_visible(session=db.session, account=account, tracking_no=tracking_no)
        view = service.case_view(session=db.session, complaint=complaint, account=account,
                                 attachments=service.attachments_of(session=db.session, complaint=complaint))
        db.session.commit()  # the audit entry
        return view


@blp.route(f"/complaints/<{TRACKING_NO}:tracking_no>/actions")
class Actions(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(ActionInSchema)
    @blp.response(200, ComplaintSchema)
    @blp.error(403, "FORBIDDEN: not the department holding the case (a co-handling department sees it but "
                    "does not act), or assign by an officer")
    @blp.error(404, "Unknown, or not this department's case")
    @blp.error(409, "INVALID_TRANSITION: not allowed from the current status; CONFLICT: this referral "
                    "(same body, same reference number) is already recorded")
    def post(self, data, tracking_no):
        """Act on a case: accept, reject, assign, transfer, investigate, resolve, reply, close, extend, refer."""
        account = current_account()
        complaint = service.get_visible(session=db.session, account=account, tracking_no=tracking_no)
        service.act(session=db.session, complaint=complaint, account=account, action=data.pop("action"), data=data)
        view = service.case_view(session=db.session, complaint=complaint, account=account, with_contact=False,
                                 attachments=service.attachments_of(session=db.session, complaint=complaint))
        db.session.commit()
        return view


@blp.route("/me/complaints")
class MyComplaints(MethodView):
    @login_required(CITIZEN)
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(TrackingSchema))
    def get(self, page, page_size):
        """The complaints this citizen filed while logged in, as tracking shows them."""
        result = paginate(db.session, service.citizen_query(account=current_account()), page=page, page_size=page_size)
        result["items"] = [service.tracking_view(c) for c in result["items"]]
        return result


# The jobs this package's routes start (api.jobs): collected by the composition root.
JOBS = {"complaints_export": job_routes.export_runner(ComplaintExportArgs, _complaint_export)}
