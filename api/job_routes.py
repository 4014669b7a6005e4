"""Jobs over HTTP (API.md, "Jobs (long work)"): GET /jobs/{id}, GET /jobs/{id}/download, and what an
import or export route uses to answer 202 instead of doing the work inside the request.

An export route hands `export()` a way to count its rows and a way to build its spreadsheet
(`ExportSpec`); the job re-loads the same query with the same schema (`export_runner`) and builds the
same spreadsheet into a file. An import route asks `start()` with the uploaded bytes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from flask import Response, current_app, jsonify, request, stream_with_context, url_for
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import func, select
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import MultiDict

from api import audit, jobs, spreadsheets
from api.auth import current_account, login_required
from api.context import ID
from api.database import SHANGHAI, SessionLike, db, utcnow
from api.errors import Conflict, DomainError, Forbidden, NotFound
from api.extensions import Blueprint
from api.queue import queue

blp = Blueprint("jobs", __name__, url_prefix="/api/v1", description="Jobs: imports and exports too long for one request")


class Expired(DomainError):
    status, code, default_message = 410, "EXPIRED", "导出文件已过期（保留 24 小时），请重新导出"


# ---- schemas ------------------------------------------------------------------------------------

class ProgressSchema(Schema):
    done = fields.Integer(required=True, metadata={"description": "rows read (import) or written (export) so far"})
    total = fields.Integer(allow_none=True, metadata={"description": "rows in all; null while not yet known"})


class JobErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields", keys=fields.String(), values=fields.List(fields.String()))


class JobSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"example": "institutions_import"})
    status = fields.String(required=True, metadata={"enum": list(jobs.STATUSES)})
    progress = fields.Nested(ProgressSchema, required=True)
    result = fields.Dict(metadata={"description": "an import's answer as the synchronous import gives it; an "
                                                  "export's {rows, format, file_name}"})
    error = fields.Nested(JobErrorSchema, metadata={"description": "why the job failed (the error envelope)"})
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "an export's file is downloadable until then"})
    download_url = fields.String(metadata={"description": "an export's file, once done"})


class AcceptedSchema(Schema):
    job_id = fields.Integer(required=True)
    status_url = fields.String(required=True)


ACCEPTED = {"202": {"description": "Too large for one request (or `Prefer: respond-async`): a job was started; "
                                   "follow `status_url`",
                    "content": {"application/json": {"schema": AcceptedSchema}}}}
PREFER_HEADER = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "`respond-async`: always answer 202 with a job (RFC 7240)"}


# ---- starting jobs ------------------------------------------------------------------------------

def prefers_async() -> bool:
    """Whether the request says `Prefer: respond-async` (RFC 7240: comma-separated preferences, each
    possibly with parameters, names case-insensitive)."""
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            if preference.split(";")[0].split("=")[0].strip().lower() == "respond-async":
                return True
    return False


def start(kind: str, *, params: dict, total: int | None = None, data: bytes | None = None):
    """Create the job (with its uploaded file), commit, queue it, and answer 202."""
    session = db.session
    job = jobs.create(session=session, kind=kind, account=current_account(), params=params, total=total)
    if data is not None:
        jobs.store_input(job, data, upload_dir=current_app.config["UPLOAD_DIR"])
    job_id = job.id
    session.commit()
    queue().enqueue(job_id)  # in immediate mode (memory://) the job runs here, in a context of its own
    status_url = url_for("jobs.JobById", job_id=job_id, _external=True)
    response = jsonify({"job_id": job_id, "status_url": status_url})  # a Response: not the route's 200 schema
    response.status_code = 202
    response.headers["Location"] = status_url
    if prefers_async():
        response.headers["Preference-Applied"] = "respond-async"
    return response


@dataclass
class ExportSpec:
    """A spreadsheet to write: as the route streams it, or as a job writes it into a file.
    `audit` (called once the rows have been written) gives the audit entry a delivery must write:
    {action, object_type, object_id, count}, or None."""

    name: str
    title: str
    headers: list[str]
    rows: Iterable[list]
    widths: list[int] | None = None
    audit: Callable[[], dict | None] | None = None


def count_rows(session: SessionLike, statement) -> int:
    return session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


def export(kind: str, *, fmt: str, count: Callable[[], int], build: Callable[[], ExportSpec],
           on_end: Callable[[bool], None] | None = None, path: dict | None = None):
    """An export route's answer: the file streamed as before, or 202 with a job when it is asked for
    or when there are more than EXPORT_ASYNC_ROWS rows."""
    asked = prefers_async()
    total = count()
    if asked or total > jobs.EXPORT_ASYNC_ROWS:
        return start(kind, params={"query": list(request.args.items(multi=True)), "path": path or {}}, total=total)
    spec = build()
    return spreadsheets.download(spec.name, fmt, spec.title, spec.headers, spec.rows, spec.widths, on_end=on_end)


def export_runner(schema: type[Schema], build: Callable[..., ExportSpec]) -> jobs.Runner:
    """The job of an export route: its query re-loaded by its own schema, `build(session=, account=,
    **args, **path)` called as the route calls it, the rows written to a file."""

    def run(work: jobs.Work) -> jobs.Outcome:
        account = work.account()
        query = MultiDict([tuple(pair) for pair in work.params.get("query", [])])
        args = schema().load(MultiDictProxy(query, schema()))
        fmt = args.pop("format", "xlsx")
        spec = build(session=work.session, account=account, **args, **work.params.get("path", {}))
        written = [0]

        def report(count: int) -> None:
            written[0] = count
            work.progress(count, work.total)

        rows = jobs.counted(spec.rows, report)
        if fmt == "csv":
            chunks, mimetype = spreadsheets.csv_stream(spec.headers, rows), "text/csv; charset=utf-8"
        else:
            chunks, mimetype = spreadsheets.xlsx_stream(spec.title, spec.headers, rows, spec.widths), spreadsheets.XLSX
        path = jobs.write_file(work.folder, work.job_id, fmt, chunks)
        stamp = dt.datetime.now(SHANGHAI).strftime("%Y%m%d-%H%M")
        file_name = f"{spec.name}-{stamp}.{fmt}"
        return jobs.Outcome(result={"rows": written[0], "format": fmt, "file_name": file_name}, done=written[0],
                            file_path=path, file_name=file_name, file_type=mimetype,
                            audit=spec.audit() if spec.audit is not None else None)

    return run


# ---- the endpoints ------------------------------------------------------------------------------

def _view(job: jobs.Job) -> dict:
    answer = jobs.view(job, queue().live(job.id) if job.status == jobs.RUNNING else None)
    if job.status == jobs.DONE and job.expires_at is not None:
        answer["download_url"] = url_for("jobs.JobDownload", job_id=job.id, _external=True)
    return answer


@blp.route(f"/jobs/<{ID}:job_id>")
class JobById(MethodView):
    @login_required()
    @blp.response(200, JobSchema)
    @blp.error(404, "Unknown, or another account's job")
    def get(self, job_id):
        """A job's status and progress, and when done its result (the account that started it, and admins)."""
        return _view(jobs.get_visible(session=db.session, job_id=job_id, account=current_account()))


@blp.route(f"/jobs/<{ID}:job_id>/download")
class JobDownload(MethodView):
    @login_required()
    @blp.doc(responses={"200": {"description": "The export's file (.xlsx or .csv)",
                                "content": {spreadsheets.XLSX: {}, "text/csv": {}}}})
    @blp.error(403, "A file with complainants' contacts is for the account that exported it only")
    @blp.error(404, "Unknown, another account's job, or a job without a file (an import)")
    @blp.error(409, "The export is not done yet")
    @blp.error(410, "EXPIRED: the file was kept 24 hours")
    def get(self, job_id):
        """An export job's file, until it expires (24 h after the job finished)."""
        account = current_account()
        job = jobs.get_visible(session=db.session, job_id=job_id, account=account)
        if job.status in (jobs.QUEUED, jobs.RUNNING):
            raise Conflict("导出尚未完成，请稍后再下载")
        if job.expires_at is None:
            raise NotFound("此任务没有可下载的文件")
        if job.expires_at <= utcnow() or job.file_path is None:
            raise Expired()
        if job.audit and job.account_id != account.id:
            raise Forbidden("含投诉人联系方式的导出文件仅限导出人下载")
        path = os.path.join(current_app.config["UPLOAD_DIR"], job.file_path)
        if not os.path.exists(path):
            raise Expired()
        entry, reader_id = job.audit, account.id
        body = _chunks(open(path, "rb"))  # noqa: SIM115 - closed by the generator
        if entry:
            body = spreadsheets.reporting_end(body, lambda complete: _audit(entry, reader_id, complete))
        response = Response(stream_with_context(body), mimetype=job.file_type)
        response.headers["Content-Length"] = str(os.path.getsize(path))
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(job.file_name or 'export')}"
        response.headers["Cache-Control"] = "private, no-store"
        return response


def _chunks(file, size: int = 64 * 1024) -> Iterator[bytes]:
    with file:
        while block := file.read(size):
            yield block


def _audit(entry: dict, account_id: int, complete: bool) -> None:
    """A downloaded file that carries personal data is logged as the streamed export logs itself."""
    detail = str(entry["count"]) if complete else f"{entry['count']}（传输中断）"
    audit.record(session=db.session, account_id=account_id, action=entry["action"], object_type=entry["object_type"],
                 object_id=entry["object_id"], detail=detail)
    db.session.commit()
