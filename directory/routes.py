"""Directory endpoints: institutions and staff (regulators write; institutions read their own)."""

from __future__ import annotations

from urllib.parse import quote

from flask import current_app
from flask.views import MethodView

from api import clients, job_routes, jobs, spreadsheets
from api.access import INSTITUTION, REGULATORS
from api.auth import current_account, current_caller, login_required
from api.context import ID, view_context
from api.database import db
from api.errors import DomainError, NotVisible
from api.extensions import Blueprint
from api.request import allow_upload
from api.schemas import page_schema, paginate
from directory import exports, imports, service
from registry import service as registry
from registry.models import Institution
from registry.schemas import (
    ImportArgs,
    ImportFileSchema,
    ImportResultSchema,
    InstitutionInSchema,
    InstitutionListArgs,
    InstitutionPatchSchema,
    InstitutionSchema,
    StaffInSchema,
    StaffListArgs,
    StaffPatchSchema,
    StaffSchema,
)

blp = Blueprint("registry", __name__, url_prefix="/api/v1", description="Institutions and staff (一户一档)")
InstitutionExportArgs = spreadsheets.export_args(InstitutionListArgs)
IMPORT_MAX_BYTES = 32 * 1024 * 1024  # a city's directory: 100,000 rows are ~7 MB as .xlsx, ~16 MB as CSV


class ImportTooLarge(DomainError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", "导入文件超过 32 MB，请拆分后分批导入"


def _institution(institution):
    return service.institution_view(institution, **view_context())


def _staff(staff):
    return service.staff_view(staff, **view_context())


def _import(kind: str, data: dict, upload):
    """Run an import, or answer 202 with a job for a large file or `Prefer: respond-async`; commit only
    what the answer says is written."""
    content = upload.read()
    if job_routes.prefers_async() or spreadsheets.more_data_rows_than(content, jobs.IMPORT_ASYNC_ROWS):
        return job_routes.start(f"{kind}_import", params=data, data=content)
    try:
        answer = imports.run(session=db.session, data=content, kind=kind, **data)
    except Exception:  # an unreadable file found half-way: what the rows before it wrote goes too
        db.session.rollback()
        raise
    if answer["written"]:
        db.session.commit()
    else:
        db.session.rollback()
    return answer


def _import_runner(kind: str) -> jobs.Runner:
    """An import as a job: the stored upload, the same import, its answer the job's result. The rows
    are written in one transaction with the job's `done` (api.jobs.execute): all or nothing, unless
    `partial`."""

    def run(work: jobs.Work) -> jobs.Outcome:
        answer = imports.run(session=work.session, data=work.read_input(), kind=kind,
                             dry_run=work.params["dry_run"], partial=work.params["partial"], progress=work.progress,
                             max_rows=spreadsheets.JOB_MAX_ROWS)
        rows = answer["created"] + answer["updated"] + len(answer["rejected"])
        return jobs.Outcome(result=answer, commit=answer["written"], done=rows)

    return run


def _template(kind: str):
    body = imports.template(kind)
    name = "机构导入模板.xlsx" if kind == "institutions" else "人员导入模板.xlsx"
    response = current_app.response_class(body, mimetype=spreadsheets.XLSX)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


@blp.route("/institutions/import")
class InstitutionImport(MethodView):
    @login_required(*REGULATORS)
    @allow_upload(IMPORT_MAX_BYTES, ImportTooLarge)
    @blp.arguments(ImportArgs, location="query")
    @blp.arguments(ImportFileSchema, location="files", as_kwargs=True)
    @blp.response(200, ImportResultSchema)
    @blp.doc(responses=job_routes.ACCEPTED, parameters=[job_routes.PREFER_HEADER])
    @blp.error(413, "PAYLOAD_TOO_LARGE")
    def post(self, data, file):
        """Import institutions from .xlsx or .csv (Chinese headers); matched by 统一社会信用代码. More than
        2,000 rows (or `Prefer: respond-async`): 202 and a job."""
        return _import("institutions", data, file)


@blp.route("/staff/import")
class StaffImport(MethodView):
    @login_required(*REGULATORS)
    @allow_upload(IMPORT_MAX_BYTES, ImportTooLarge)
    @blp.arguments(ImportArgs, location="query")
    @blp.arguments(ImportFileSchema, location="files", as_kwargs=True)
    @blp.response(200, ImportResultSchema)
    @blp.doc(responses=job_routes.ACCEPTED, parameters=[job_routes.PREFER_HEADER])
    @blp.error(413, "PAYLOAD_TOO_LARGE")
    def post(self, data, file):
        """Import staff from .xlsx or .csv; matched by 身份证号 at the institution of 机构统一社会信用代码. More
        than 2,000 rows (or `Prefer: respond-async`): 202 and a job."""
        return _import("staff", data, file)


@blp.route("/institutions/import/template.xlsx")
class InstitutionImportTemplate(MethodView):
    @login_required(*REGULATORS)
    @blp.doc(responses={"200": {"description": "Excel template", "content": {spreadsheets.XLSX: {}}}})
    def get(self):
        """The institution import template: headers, an example row, a drop-down for the category."""
        return _template("institutions")


@blp.route("/staff/import/template.xlsx")
class StaffImportTemplate(MethodView):
    @login_required(*REGULATORS)
    @blp.doc(responses={"200": {"description": "Excel template", "content": {spreadsheets.XLSX: {}}}})
    def get(self):
        """The staff import template: headers, an example row, a drop-down for the category."""
        return _template("staff")


@blp.route("/institutions")
class Institutions(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(InstitutionListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(InstitutionSchema))
    def get(self, page, page_size, **filters):
        """List institutions (regulators), filtered by text, category, street or credit grade."""
        result = paginate(db.session, service.institution_query(session=db.session, **filters), page=page,
                          page_size=page_size)
        result["items"] = [_institution(i) for i in result["items"]]
        db.session.commit()  # credit recomputed because it had gone stale (rare), else nothing
        return result

    @login_required(*REGULATORS)
    @blp.arguments(InstitutionInSchema)
    @blp.response(201, InstitutionSchema)
    @blp.error(409, "Duplicate uscc or licence_no")
    def post(self, data):
        """Register an institution; its code is issued at once."""
        institution = service.create_institution(session=db.session, data=data)
        db.session.commit()
        return _institution(institution)


@blp.route("/institutions/export")
class InstitutionExport(MethodView):
    @blp.doc(responses={**spreadsheets.EXPORT_RESPONSES, **job_routes.ACCEPTED}, parameters=[job_routes.PREFER_HEADER])
    @login_required(*REGULATORS)
    @blp.arguments(InstitutionExportArgs, location="query", as_kwargs=True)
    def get(self, format, **filters):
        """Export institutions as .xlsx or .csv (the list's filters), with licence status, credit and lists.
        More than 50,000 rows (or `Prefer: respond-async`): 202 and a job."""
        statement = service.institution_query(session=db.session, **filters)
        db.session.commit()  # credit recomputed because it had gone stale (rare), else nothing
        return job_routes.export("institutions_export", fmt=format,
                                 count=lambda: job_routes.count_rows(db.session, statement),
                                 build=lambda: _institution_export(session=db.session, account=None, **filters))


def _institution_export(*, session, account, **filters) -> job_routes.ExportSpec:
    statement = service.institution_query(session=session, **filters)
    session.commit()  # credit recomputed because it had gone stale (rare), else nothing
    rows = exports.rows(session=session, statement=statement, **view_context())
    return job_routes.ExportSpec("机构名录", exports.TITLE, exports.headers, rows, exports.widths)


@blp.route(f"/institutions/<{ID}:institution_id>")
class InstitutionById(MethodView):
    @login_required(scopes=(clients.CHANGES_READ,))
    @blp.response(200, InstitutionSchema)
    @blp.error(404, "Unknown, or not this account's institution")
    def get(self, institution_id):
        """One institution (regulators; an institution account only its own; API clients with
        `changes:read`, which the changes feed sends here for each `institution` change)."""
        caller = current_caller()
        if isinstance(caller, clients.ApiClient):
            institution = db.session.get(Institution, institution_id)
            if institution is None:
                raise NotVisible("未找到该机构")
        else:
            institution = registry.get_institution(session=db.session, institution_id=institution_id, account=caller)
        answer = _institution(institution)
        db.session.commit()  # a credit recomputed because it had gone stale (rare), else nothing
        return answer

    @login_required(INSTITUTION, *REGULATORS)
    @blp.arguments(InstitutionPatchSchema(partial=True))
    @blp.response(200, InstitutionSchema)
    @blp.error(404, "Unknown, or not this account's institution")
    @blp.error(409, "Duplicate uscc or licence_no")
    def patch(self, changes, institution_id):
        """Change an institution. An institution account may change only its contact phone."""
        account = current_account()
        institution = registry.get_institution(session=db.session, institution_id=institution_id, account=account)
        registry.update_institution(session=db.session, institution=institution, changes=changes, account=account)
        db.session.commit()
        return _institution(institution)


@blp.route(f"/institutions/<{ID}:institution_id>/staff")
class InstitutionStaff(MethodView):
    @login_required()
    @blp.arguments(StaffListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(StaffSchema))
    @blp.error(404, "Unknown, or not this account's institution")
    def get(self, institution_id, page, page_size, status=None):
        """The staff of an institution (regulators; an institution account only its own)."""
        registry.get_institution(session=db.session, institution_id=institution_id, account=current_account())
        statement = registry.staff_query(institution_id=institution_id, status=status)
        result = paginate(db.session, statement, page=page, page_size=page_size)
        result["items"] = [_staff(s) for s in result["items"]]
        db.session.commit()  # a credit recomputed because it had gone stale (rare), else nothing
        return result

    @login_required(*REGULATORS)
    @blp.arguments(StaffInSchema)
    @blp.response(201, StaffSchema)
    @blp.error(404, "Unknown institution")
    @blp.error(409, "This person is already registered at this institution")
    def post(self, data, institution_id):
        """Register a staff member at an institution; their code is issued at once."""
        institution = registry.get_institution(session=db.session, institution_id=institution_id,
                                               account=current_account())
        staff = service.create_staff(session=db.session, institution=institution, data=data)
        db.session.commit()
        return _staff(staff)


@blp.route(f"/staff/<{ID}:staff_id>")
class StaffById(MethodView):
    @login_required()
    @blp.response(200, StaffSchema)
    @blp.error(404, "Unknown, or not at this account's institution")
    def get(self, staff_id):
        """One staff member (regulators; an institution account only its own staff)."""
        answer = _staff(registry.get_staff(session=db.session, staff_id=staff_id, account=current_account()))
        db.session.commit()  # a credit recomputed because it had gone stale (rare), else nothing
        return answer

    @login_required(*REGULATORS)
    @blp.arguments(StaffPatchSchema(partial=True))
    @blp.response(200, StaffSchema)
    @blp.error(404, "Unknown staff member")
    def patch(self, changes, staff_id):
        """Change a staff member's record, e.g. `status: left` when they leave."""
        staff = registry.get_staff(session=db.session, staff_id=staff_id, account=current_account())
        registry.update_staff(session=db.session, staff=staff, changes=changes)
        db.session.commit()
        return _staff(staff)




# The jobs this package's routes start (api.jobs): collected by the composition root.
JOBS = {
    "institutions_import": _import_runner("institutions"),
    "staff_import": _import_runner("staff"),
    "institutions_export": job_routes.export_runner(InstitutionExportArgs, _institution_export),
}
