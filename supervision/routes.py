"""Supervision endpoints: violations and points (and commitment breaches, which add them), credit, lists,
inspections, inspectors, draws, leads, and the evidence of an inspection."""

from __future__ import annotations

from flask import current_app, send_file
from flask.views import MethodView
from sqlalchemy import select

from api import clients, files, job_routes, spreadsheets
from api.access import (
    DECIDERS,
    INSTITUTION,
    REGULATORS,
    STAFF,
    check_own_institution,
    scope_to_account,
)
from api.auth import current_account, current_caller, login_required
from api.context import ID
from api.database import db, today_shanghai
from api.errors import NotFound, NotVisible
from api.extensions import Blueprint
from api.request import allow_upload
from api.schemas import PageArgs, page_schema, paginate
from leads.models import Lead
from registry import licence
from registry.models import Institution
from selfcheck import commitments
from selfcheck import service as selfcheck  # selfcheck feeds supervision, not the other way round
from selfcheck.schemas import BreachInSchema, CommitmentSchema
from supervision import draws, evidence, exports, inspections, leads, plans, records, service, violations
from supervision.models import CreditRecord, Inspection, InspectionDraw
from supervision.schemas import (
    BlackListInSchema,
    ConflictInSchema,
    ConflictSchema,
    DecisionInSchema,
    DismissSchema,
    DrawInSchema,
    DrawSchema,
    EvidenceSchema,
    EvidenceUploadSchema,
    EvidenceVerificationSchema,
    FindingsInSchema,
    InspectionInSchema,
    InspectionListArgs,
    InspectionRecordSchema,
    InstitutionCreditSchema,
    LeadListArgs,
    LeadSchema,
    LegalReviewInSchema,
    LiftInSchema,
    ListEntrySchema,
    ObjectionInSchema,
    PlanInSchema,
    PlanListArgs,
    PlanSchema,
    RefreshResultSchema,
    RuleSchema,
    ViolationInSchema,
    ViolationListArgs,
    ViolationSchema,
)

blp = Blueprint("supervision", __name__, url_prefix="/api/v1",
                description="Supervision: points, credit, lists, inspections, random draws, leads")
LeadExportArgs = spreadsheets.export_args(LeadListArgs)
ListExportArgs = spreadsheets.export_args(PageArgs)


# ---- violations -----------------------------------------------------------------------------------

@blp.route("/violations/rules")
class Rules(MethodView):
    @blp.response(200, RuleSchema(many=True))
    def get(self):
        """The scoring rule table: violation types, points (1, 2, 4, 6 or 10) and legal basis."""
        return list(violations.rules().values())


@blp.route("/violations")
class Violations(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.arguments(ViolationListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(ViolationSchema))
    def get(self, page, page_size, **filters):
        """Violations: an institution's own; all for regulators."""
        result = paginate(db.session, violations.query(account=current_account(), **filters), page=page,
                          page_size=page_size)
        result["items"] = [violations.view(v) for v in result["items"]]
        return result

    @login_required(*REGULATORS)
    @blp.arguments(ViolationInSchema)
    @blp.response(201, ViolationSchema)
    def post(self, data):
        """Record a violation: pending for 7 working days, during which the institution may object."""
        violation = violations.record(session=db.session, account=current_account(), **data)
        db.session.commit()
        return violations.view(violation)


@blp.route(f"/violations/<{ID}:violation_id>")
class ViolationById(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.response(200, ViolationSchema)
    @blp.error(404, "Unknown, or another institution's")
    def get(self, violation_id):
        """One violation."""
        return violations.view(violations.get_visible(session=db.session, account=current_account(),
                                                      violation_id=violation_id))


@blp.route(f"/violations/<{ID}:violation_id>/objection")
class Objection(MethodView):
    @login_required(INSTITUTION)
    @blp.arguments(ObjectionInSchema)
    @blp.response(200, ViolationSchema)
    @blp.error(404, "Unknown, or another institution's")
    @blp.error(409, "INVALID_TRANSITION: objected already, or the window has ended")
    def post(self, data, violation_id):
        """Object to a pending violation (the institution concerned; once, within 7 working days)."""
        account = current_account()
        violation = violations.get_visible(session=db.session, account=account, violation_id=violation_id)
        violations.object_to(session=db.session, violation=violation, account=account, **data)
        db.session.commit()
        return violations.view(violation)


@blp.route(f"/violations/<{ID}:violation_id>/decision")
class Decision(MethodView):
    @login_required(*DECIDERS)
    @blp.arguments(DecisionInSchema)
    @blp.response(200, ViolationSchema)
    @blp.error(404, "Unknown violation")
    @blp.error(409, "INVALID_TRANSITION: not objected")
    def post(self, data, violation_id):
        """Uphold or cancel an objected violation (supervisors); credit follows at once."""
        violation = violations.get(session=db.session, violation_id=violation_id)
        violations.decide(session=db.session, violation=violation, account=current_account(), **data)
        db.session.commit()
        return violations.view(violation)


# ---- credit and lists -----------------------------------------------------------------------------

@blp.route(f"/institutions/<{ID}:institution_id>/credit")
class InstitutionCredit(MethodView):
    @login_required(INSTITUTION, *REGULATORS, scopes=(clients.CREDIT_READ,))
    @blp.response(200, InstitutionCreditSchema)
    @blp.error(404, "Unknown, or not this account's institution")
    def get(self, institution_id):
        """Credit: points this cycle, grade, colour, consequence band, mode, risk, lists and history
        (regulators, the institution itself, and API clients with `credit:read`: the credit platform)."""
        caller = current_caller()
        if not isinstance(caller, clients.ApiClient):
            check_own_institution(caller, institution_id)
        institution = db.session.get(Institution, institution_id)
        if institution is None:
            raise NotVisible("未找到该机构")
        answer = _credit_answer(institution)
        db.session.commit()  # a credit recomputed because it had gone stale (rare), else nothing
        return answer


def _credit_answer(institution: Institution) -> dict:
    """The credit endpoint's answer: today's credit of the stored snapshot, and its recent history."""
    today = today_shanghai()
    credit = service.institution_credit(institution, licence.of(institution, today), today)
    history = db.session.scalars(select(CreditRecord).where(CreditRecord.institution_id == institution.id)
                                 .order_by(CreditRecord.id.desc()).limit(50)).all()
    return {"institution_id": institution.id, "grade": credit.grade, "points": credit.points,
            "colour": credit.colour, "supervision_mode": credit.supervision_mode, "mode_reason": credit.mode_reason,
            "graded_risk_level": credit.graded_risk_level, "risk_level": credit.risk_level,
            "band": credit.band, "lists": list(credit.lists), "commitment_valid_to": institution.commitment_valid_to,
            "history": [{column.key: getattr(record, column.key) for column in CreditRecord.__table__.columns}
                        for record in history]}  # plain values: the route commits after this


@blp.route("/lists/<any(red, black, key):name>")
class Lists(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(ListEntrySchema))
    def get(self, name, page, page_size):
        """The red, black or key supervision list (public): who, why, since when, newest first.

        The key supervision list (重点监管名单) holds every institution in a band of key supervision or
        stronger, which every black-listed institution is, whatever its points."""
        result = paginate(db.session, inspections.list_query(name, session=db.session), page=page,
                          page_size=page_size)
        result["items"] = [inspections.list_view(entry) for entry in result["items"]]
        db.session.commit()  # credit recomputed because it had gone stale (rare), else nothing
        return result


@blp.route("/lists/<any(red, black, key):name>/export")
class ListExport(MethodView):
    @blp.doc(responses={**spreadsheets.EXPORT_RESPONSES, **job_routes.ACCEPTED}, parameters=[job_routes.PREFER_HEADER])
    @login_required(*REGULATORS)
    @blp.arguments(ListExportArgs, location="query", as_kwargs=True)
    def get(self, name, format):
        """Export the red, black or key supervision list as .xlsx or .csv (regulators), with each institution's
        credit. More than 50,000 rows (or `Prefer: respond-async`): 202 and a job."""
        statement = inspections.list_query(name, session=db.session)
        db.session.commit()  # credit recomputed because it had gone stale (rare), else nothing
        return job_routes.export("list_export", fmt=format, path={"name": name},
                                 count=lambda: job_routes.count_rows(db.session, statement),
                                 build=lambda: _list_export(session=db.session, account=None, name=name))


def _list_export(*, session, account, name) -> job_routes.ExportSpec:
    statement = inspections.list_query(name, session=session)
    session.commit()  # credit recomputed because it had gone stale (rare), else nothing
    title = exports.LIST_NAMES[name]
    rows = exports.list_rows(session=session, statement=statement)
    return job_routes.ExportSpec(title, title, exports.list_headers, rows, exports.list_widths)


@blp.route("/lists/black/decisions")
class BlackListDecisions(MethodView):
    @login_required(*DECIDERS)
    @blp.arguments(BlackListInSchema)
    @blp.response(201, ListEntrySchema)
    @blp.error(404, "No institution with this institution_id")
    @blp.error(409, "Already on the black list by decision")
    def post(self, data):
        """Put an institution on the black list by decision, with a reason (supervisors)."""
        entry = inspections.black_list(session=db.session, account=current_account(), **data)
        db.session.commit()
        return inspections.list_view(entry)


@blp.route(f"/lists/black/decisions/<{ID}:institution_id>/lift")
class LiftBlackList(MethodView):
    @login_required(*DECIDERS)
    @blp.arguments(LiftInSchema)
    @blp.response(200, InstitutionCreditSchema)
    @blp.error(404, "No black-list decision in force for this institution")
    def post(self, data, institution_id):
        """Lift a black-list decision, with a reason (supervisors). Points may keep it on the list."""
        institution = inspections.lift_black_list(session=db.session, account=current_account(),
                                                  institution_id=institution_id, **data)
        db.session.commit()
        return _credit_answer(institution)


# ---- inspections, inspectors and draws ------------------------------------------------------------

@blp.route("/inspections")
class Inspections(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.arguments(InspectionListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(InspectionRecordSchema))
    def get(self, page, page_size, institution_id=None, **filters):
        """Inspection records, newest first: an institution's own; all for regulators."""
        account = current_account()
        statement = records.query(**filters)
        statement = scope_to_account(statement, account, Inspection.institution_id, institution_id=institution_id)
        result = paginate(db.session, statement, page=page, page_size=page_size)
        result["items"] = [records.view(i, internal=account.role != INSTITUTION) for i in result["items"]]
        return result

    @login_required(*REGULATORS)
    @blp.arguments(InspectionInSchema)
    @blp.response(201, InspectionRecordSchema)
    @blp.error(403, "The recorder's department is not on the record")
    def post(self, data):
        """Record a visit (one record, each department's findings); it closes the institution's open lead.
        A penalty finding leaves it pending legal review."""
        inspection = records.record(session=db.session, account=current_account(), **data)
        db.session.commit()
        return records.view(inspection)


@blp.route(f"/inspections/<{ID}:inspection_id>")
class InspectionById(MethodView):
    @login_required(INSTITUTION, *REGULATORS)
    @blp.response(200, InspectionRecordSchema)
    @blp.error(404, "Unknown, or another institution's")
    def get(self, inspection_id):
        """One inspection record with its departments, inspectors, findings and reviews."""
        account = current_account()
        return records.view(records.get_visible(session=db.session, account=account, inspection_id=inspection_id),
                            internal=account.role != INSTITUTION)


@blp.route(f"/inspections/<{ID}:inspection_id>/findings")
class Findings(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(FindingsInSchema)
    @blp.response(201, InspectionRecordSchema)
    @blp.error(403, "The caller's department is not on the record, or the finding is another department's")
    @blp.error(404, "Unknown inspection")
    def post(self, data, inspection_id):
        """Add the caller's department's findings to a record it is on; the result follows the most severe."""
        account = current_account()
        inspection = records.get_visible(session=db.session, account=account, inspection_id=inspection_id)
        records.add_findings(session=db.session, account=account, inspection=inspection, **data)
        db.session.commit()
        return records.view(inspection)


@blp.route(f"/inspections/<{ID}:inspection_id>/legal-review")
class LegalReviewOf(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(LegalReviewInSchema)
    @blp.response(200, InspectionRecordSchema)
    @blp.error(403, "Not a supervisor of a department on the record, or one of its inspectors")
    @blp.error(404, "Unknown inspection")
    @blp.error(409, "INVALID_TRANSITION: no penalty awaits review; CONFLICT: `finding_ids` are no longer the pending ones")
    def post(self, data, inspection_id):
        """Legal review of a penalty (法制审核) by a supervisor of a department on the record who did not
        inspect: approved, it is public and counts; returned, it goes back to the inspectors with the note."""
        account = current_account()
        inspection = records.get_visible(session=db.session, account=account, inspection_id=inspection_id)
        records.legal_review(session=db.session, account=account, inspection=inspection, **data)
        db.session.commit()
        return records.view(inspection)


@blp.route(f"/inspectors/<{ID}:account_id>/conflicts")
class Conflicts(MethodView):
    @login_required(*REGULATORS)
    @blp.response(200, ConflictSchema(many=True))
    @blp.error(404, "Unknown, not an officer, or not one the caller may act for (the same answer)")
    def get(self, account_id):
        """An inspector's declared conflicts (the officer itself, its supervisor, admins)."""
        inspector = inspections.visible_inspector(session=db.session, actor=current_account(), account_id=account_id)
        return inspections.conflicts_of(session=db.session, inspector=inspector)

    @login_required(*REGULATORS)
    @blp.arguments(ConflictInSchema)
    @blp.response(201, ConflictSchema)
    @blp.error(404, "Unknown, not an officer, or not one the caller may act for (the same answer)")
    @blp.error(409, "Declared already")
    def post(self, data, account_id):
        """Declare an institution or a street this inspector may not inspect (回避)."""
        actor = current_account()
        inspector = inspections.visible_inspector(session=db.session, actor=actor, account_id=account_id)
        conflict = inspections.declare_conflict(session=db.session, actor=actor, inspector=inspector,
                                                institution_id=data.get("institution_id"), street=data.get("street"))
        db.session.commit()
        return conflict


@blp.route("/inspection-draws")
class Draws(MethodView):
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(DrawSchema))
    def get(self, page, page_size):
        """Published draws, newest first (public)."""
        result = paginate(db.session, select(InspectionDraw).order_by(InspectionDraw.id.desc()), page=page,
                          page_size=page_size)
        result["items"] = draws.views(session=db.session, records=result["items"])
        return result

    @login_required(*DECIDERS)
    @blp.arguments(DrawInSchema)
    @blp.response(201, DrawSchema)
    def post(self, data):
        """Draw institutions and inspectors at random (双随机), with a stored, published seed; jointly with
        `departments` (a team with inspectors of every one), within a plan's scope with `plan_id`."""
        record = draws.draw(session=db.session, account=current_account(), **data)
        db.session.commit()
        return draws.view(session=db.session, record=record)


@blp.route(f"/inspection-draws/<{ID}:draw_id>")
class DrawById(MethodView):
    @blp.response(200, DrawSchema)
    @blp.error(404, "Unknown draw")
    def get(self, draw_id):
        """One draw with its seed and inputs, to re-run and verify (public; docs/draws.md)."""
        record = db.session.get(InspectionDraw, draw_id)
        if record is None:
            raise NotFound("未找到该抽查批次")
        return draws.view(session=db.session, record=record)


# ---- leads ----------------------------------------------------------------------------------------

@blp.route("/leads")
class Leads(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(LeadListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(LeadSchema))
    def get(self, page, page_size, **filters):
        """Inspection leads, highest score first (open ones unless `status` says otherwise)."""
        result = paginate(db.session, leads.lead_query(**filters), page=page, page_size=page_size)
        result["items"] = [leads.lead_view(lead) for lead in result["items"]]
        return result


@blp.route("/leads/export")
class LeadExport(MethodView):
    @blp.doc(responses={**spreadsheets.EXPORT_RESPONSES, **job_routes.ACCEPTED}, parameters=[job_routes.PREFER_HEADER])
    @login_required(*REGULATORS)
    @blp.arguments(LeadExportArgs, location="query", as_kwargs=True)
    def get(self, format, **filters):
        """Export inspection leads as .xlsx or .csv (the list's filters; open ones unless `status` says).
        More than 50,000 rows (or `Prefer: respond-async`): 202 and a job."""
        return job_routes.export("leads_export", fmt=format,
                                 count=lambda: job_routes.count_rows(db.session, leads.lead_query(**filters)),
                                 build=lambda: _lead_export(session=db.session, account=None, **filters))


def _lead_export(*, session, account, **filters) -> job_routes.ExportSpec:
    rows = exports.lead_rows(session=session, statement=leads.lead_query(**filters))
    return job_routes.ExportSpec("监管线索", exports.LEAD_TITLE, exports.lead_headers, rows, exports.lead_widths)


@blp.route("/leads/refresh")
class RefreshLeads(MethodView):
    @login_required(*DECIDERS)
    @blp.response(200, RefreshResultSchema)
    def post(self):
        """Turn passed self-inspection deadlines into leads now (the daily `flask refresh-leads` job)."""
        changed = selfcheck.sweep_leads(session=db.session)
        db.session.commit()
        return {"institutions": changed}


@blp.route(f"/leads/<{ID}:lead_id>/dismiss")
class DismissLead(MethodView):
    @login_required(*DECIDERS)
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


@blp.route(f"/commitments/<{ID}:commitment_id>/breach", tags=["selfcheck"])  # documented with the commitments
class Breach(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(BreachInSchema)
    @blp.response(200, CommitmentSchema)
    @blp.error(404, "Unknown commitment")
    @blp.error(409, "INVALID_TRANSITION: not in force")
    def post(self, data, commitment_id):
        """Record a breach of the commitment: it ends at once (regulators)."""
        commitment = commitments.get(session=db.session, commitment_id=commitment_id)
        violations.record_breach(session=db.session, commitment=commitment, account=current_account(), **data)
        db.session.commit()
        return commitments.view(commitment, today_shanghai())


# ---- joint supervision: yearly plans (issue 18) ------------------------------------------------------

@blp.route("/inspection-plans")
class Plans(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(PlanListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(PlanSchema))
    def get(self, page, page_size, year=None, department=None):
        """The yearly inspection plans (一单), newest year first, each with its progress."""
        result = paginate(db.session, plans.query(year=year, department=department), page=page, page_size=page_size)
        result["items"] = plans.views(session=db.session, plans=result["items"])
        return result

    @login_required(*DECIDERS)
    @blp.arguments(PlanInSchema)
    @blp.response(201, PlanSchema)
    @blp.error(403, "A supervisor of none of the plan's departments")
    @blp.error(409, "A plan of the same year and name exists")
    def post(self, data):
        """Make a year's inspection plan with each department's check items (supervisors of one of its
        departments, admins)."""
        plan = plans.create(session=db.session, account=current_account(), **data)
        db.session.commit()
        return plans.view(session=db.session, plan=plan)


@blp.route(f"/inspection-plans/<{ID}:plan_id>")
class PlanById(MethodView):
    @login_required(*REGULATORS)
    @blp.response(200, PlanSchema)
    @blp.error(404, "Unknown plan")
    def get(self, plan_id):
        """One plan with its items and progress: completion (完成率) and closing (完结率) rates."""
        return plans.view(session=db.session, plan=plans.get(session=db.session, plan_id=plan_id))


# ---- evidence of an inspection (执法全过程记录, issue 18) ------------------------------------------

@blp.route(f"/inspections/<{ID}:inspection_id>/evidence")
class InspectionEvidence(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(EvidenceSchema))
    @blp.error(403, "Not a department on the record (admins may read)")
    @blp.error(404, "Unknown inspection")
    def get(self, inspection_id, page, page_size):
        """The inspection's evidence in the order it was recorded (departments on the record, admins)."""
        inspection = evidence.inspection_for_reading(session=db.session, account=current_account(),
                                                     inspection_id=inspection_id)
        result = paginate(db.session, evidence.entries_query(inspection.id), page=page, page_size=page_size)
        result["items"] = evidence.views(session=db.session, entries=result["items"])
        return result

    @login_required(*STAFF)
    @allow_upload(evidence.MAX_BYTES, evidence.PayloadTooLarge)
    @blp.arguments(EvidenceUploadSchema, location="files", as_kwargs=True)
    @blp.response(201, EvidenceSchema)
    @blp.alt_response(200, schema=EvidenceSchema, description="The same file was already recorded for this "
                                                              "inspection: that entry (no second one)")
    @blp.error(403, "Not an officer or supervisor of a department on the record")
    @blp.error(404, "Unknown inspection")
    @blp.error(413, "PAYLOAD_TOO_LARGE: over 50 MB")
    @blp.error(422, "VALIDATION_FAILED naming `file`: not a whole JPEG, PNG, PDF or MP4 by its content")
    @blp.error(503, "UNAVAILABLE: the file could not be stored now, or the database is busy (Retry-After); "
                    "nothing was recorded")
    def post(self, inspection_id, file):
        """Add a photo, video or document to the inspection's evidence (执法全过程记录), chained to the one
        before; JPEG, PNG, PDF or MP4 by content, 50 MB at most, kept byte for byte."""
        account = current_account()
        inspection = evidence.inspection_for_recording(session=db.session, account=account,
                                                       inspection_id=inspection_id)
        entry, created = evidence.record(session=db.session, account=account, inspection=inspection,
                                         stream=file.stream, filename=file.filename,
                                         upload_dir=current_app.config["UPLOAD_DIR"])
        db.session.commit()
        return evidence.views(session=db.session, entries=[entry])[0], 201 if created else 200


@blp.route(f"/inspections/<{ID}:inspection_id>/evidence/verify")
class InspectionEvidenceCheck(MethodView):
    @login_required(*REGULATORS)
    @blp.response(200, EvidenceVerificationSchema)
    @blp.error(403, "Not a department on the record (admins may verify)")
    @blp.error(404, "Unknown inspection")
    def get(self, inspection_id):
        """Recompute the evidence chain from the stored entries and files: intact, or where it breaks."""
        inspection = evidence.inspection_for_reading(session=db.session, account=current_account(),
                                                     inspection_id=inspection_id)
        return evidence.verify(session=db.session, inspection=inspection,
                               upload_dir=current_app.config["UPLOAD_DIR"])


@blp.route(f"/inspections/<{ID}:inspection_id>/evidence/<{ID}:evidence_id>/file")
class InspectionEvidenceFile(MethodView):
    @login_required(*STAFF)
    @blp.doc(responses={"200": {"description": "The file, byte for byte as recorded",
                                "content": {media: {} for media in evidence.MEDIA_TYPES}}})
    @blp.error(403, "Not an officer or supervisor of a department on the record")
    @blp.error(404, "Unknown inspection, or no such entry on it")
    def get(self, inspection_id, evidence_id):
        """Download an evidence file (departments on the record; each download is audited)."""
        account = current_account()
        inspection = evidence.inspection_for_reading(session=db.session, account=account,
                                                     inspection_id=inspection_id, files_too=True)
        entry = evidence.entry_for_download(session=db.session, account=account, inspection=inspection,
                                            evidence_id=evidence_id)
        db.session.commit()
        response = send_file(files.path_of(current_app.config["UPLOAD_DIR"], entry.content_sha256),
                             mimetype=entry.media_type, as_attachment=True,
                             download_name=evidence.download_name(entry), max_age=0, conditional=False)
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


# The jobs this package's routes start (api.jobs): collected by the composition root.
JOBS = {
    "leads_export": job_routes.export_runner(LeadExportArgs, _lead_export),
    "list_export": job_routes.export_runner(ListExportArgs, _list_export),
}
