"""The leaders' numbers over HTTP: `GET /api/v1/stats`, as JSON or as the monthly report workbook."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from api.access import REGULATORS
from api.auth import current_account, login_required
from api.database import db, today_shanghai, utcnow
from api.extensions import Blueprint
from api.spreadsheets import XLSX
from oversight import report, stats
from oversight.schemas import StatsArgs, StatsSchema

blp = Blueprint("oversight", __name__, url_prefix="/api/v1", description="Oversight for leaders (统计与月报)")


@blp.route("/stats")
class Stats(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(StatsArgs, location="query", as_kwargs=True)
    @blp.response(200, StatsSchema)
    @blp.doc(responses={"200": {"description": "The numbers (JSON), or with `format=xlsx` the monthly report",
                                "content": {"application/json": {"schema": StatsSchema}, XLSX: {}}}})
    @blp.error(403, "An officer asking for another department's numbers, or all of them")
    @blp.error(422, "`to` before `from`, a period over 5 years, an unknown group_by")
    def get(self, format, date_from=None, date_to=None, department=None, street=None, group_by=None):
        """Complaints, self-checks, leads, inspections, credit and lists of a period, grouped (regulators).

        `?format=xlsx`: the monthly report workbook (a summary, a sheet per grouping, charts)."""
        account = current_account()
        date_from, date_to = stats.default_period(today_shanghai(), date_from, date_to)
        now = utcnow()
        common = {"session": db.session, "account": account, "date_from": date_from, "date_to": date_to,
                  "department": department, "street": street, "now": now}
        if format == "json":
            result = stats.compute(**common, group_by=group_by)
            db.session.commit()  # credit recomputed because it had gone stale (rare), else nothing
            return result
        body = report.build(**common, group_by=group_by)
        db.session.commit()  # as above
        return xlsx_answer(body, date_from, date_to)


def xlsx_answer(body: bytes, date_from, date_to) -> Response:
    """The monthly report as a download named for its period (the API's and the dashboard's)."""
    response = Response(body, mimetype=XLSX)
    response.headers["Content-Disposition"] = report.disposition(date_from, date_to)
    response.headers["Cache-Control"] = "private, no-store"
    return response
