"""Code endpoints: QR images, posters, revocation, scan counts, the public scan (JSON; the H5 page is in h5.py)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import current_app, render_template, request
from flask.views import MethodView

from api.access import INSTITUTION, REGULATORS
from api.auth import current_account, login_required
from api.context import ID, view_context
from api.database import SHANGHAI, db, today_shanghai
from api.extensions import Blueprint
from api.schemas import page_schema
from codes import service
from codes.schemas import (
    ImageArgs,
    PosterArgs,
    ProfileSchema,
    RevokeSchema,
    ScanCountArgs,
    ScanCountsSchema,
)
from public import colour as code_colour
from public import disclosure, posters, ready, scans
from public.schemas import DisclosureArgs, PublicPenaltySchema, PublicResultSchema
from registry import service as registry
from registry.schemas import CodeSchema
from selfcheck import commitments

TOKEN = "string(maxlength=32)"  # longer strings are never tokens: a plain 404
IMAGE_MAX_AGE = 300  # a colour change reaches cached images within five minutes
PROFILE_MAX_AGE = 60
PROFILE_CACHE_CONTROL = f"public, max-age={PROFILE_MAX_AGE}"

blp = Blueprint("codes", __name__, url_prefix="/api/v1", description="Codes (一码) and the public scan",
                template_folder="templates")
disclosure_blp = Blueprint("public", __name__, url_prefix="/api/v1/public",
                           description="Public disclosure of inspection results and penalties (双随机一公开), no login")


def scan_answer(token: str, *, page: bool = False) -> ready.Ready:
    """The ready answer for a token (the JSON, or the H5 page), from its stored document (public.ready);
    counts the scan. Unknown and revoked tokens raise."""
    context = view_context()
    entry = ready.answer(session=db.session, engine=db.engine, token=token, page=page, **context)
    if entry.built:
        db.session.commit()  # the document built (and a credit recomputed because it had gone stale)
    _count_scan(entry.code_id, context["today"])
    return entry


def _count_scan(code_id: int, today: dt.date) -> None:
    counter: scans.ScanCounter = current_app.extensions["scan_counter"]
    counter.record(code_id, today)
    if counter.due():
        counter.flush(db.engine)


@blp.route(f"/codes/<{TOKEN}:token>/image")
class CodeImage(MethodView):
    @blp.arguments(ImageArgs, location="query", as_kwargs=True)
    @blp.doc(responses={
        "200": {"description": "The QR code", "content": {"image/png": {}, "image/svg+xml": {}}},
        "304": {"description": "Not modified (If-None-Match)"},
        "404": "NOT_FOUND",
        "410": "GONE",
    })
    def get(self, token, format, scale):
        """The QR image of a code's URL, dark modules in the credit colour (public)."""
        context = view_context()
        code, colour = code_colour.active_for_image(session=db.session, token=token, today=context["today"])
        etag = service.image_etag(code.token, colour, format, scale)
        headers = {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={IMAGE_MAX_AGE}"}
        if request.if_none_match.contains(etag):
            return current_app.response_class(status=304, headers=headers)
        body = service.render(service.urls(code.token, context["base_url"])["url"], colour, format, scale)
        mimetype = "image/png" if format == "png" else "image/svg+xml"
        return current_app.response_class(body, mimetype=mimetype, headers=headers)


@blp.route("/codes/posters")
class StreetPosters(MethodView):
    @blp.doc(responses={"200": {"description": "A ZIP of A4 SVG posters, one per institution",
                                "content": {"application/zip": {}}}})
    @login_required(*REGULATORS)
    @blp.arguments(PosterArgs, location="query", as_kwargs=True)
    @blp.error(404, "No active institution with an active code in this street")
    def get(self, street):
        """The printable posters of every active institution of a street, one SVG each, in one ZIP."""
        file, _count = posters.street_zip(session=db.session, street=street, **view_context())
        response = current_app.response_class(posters.chunks(file), mimetype="application/zip")
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(street + '-公示牌.zip')}"
        response.headers["Cache-Control"] = "private, no-store"
        return response


@blp.route(f"/institutions/<{ID}:institution_id>/code/poster", tags=["registry"])  # documented with the institutions
class InstitutionPoster(MethodView):
    @blp.doc(responses={"200": {"description": "An A4 poster (210 × 297 mm SVG) to print",
                                "content": {"image/svg+xml": {}}}})
    @login_required(INSTITUTION, *REGULATORS)
    @blp.error(404, "Unknown, or not this account's institution")
    @blp.error(410, "CODE_REVOKED: the institution has no active code")
    def get(self, institution_id):
        """A printable A4 poster of the institution's code: name, licence number, the QR code in its
        credit colour and how to use it (regulators; an institution account its own)."""
        institution = registry.get_institution(session=db.session, institution_id=institution_id,
                                               account=current_account())
        body = posters.institution_poster(institution, **view_context())
        response = current_app.response_class(body, mimetype="image/svg+xml")
        response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(posters.filename(institution))}"
        response.headers["Cache-Control"] = "private, no-store"
        return response


@blp.route(f"/codes/<{TOKEN}:token>/wxacode")
class MiniProgramCodeImage(MethodView):
    @blp.doc(responses={
        "200": {"description": "The WeChat mini-program code (scene = the token)", "content": {"image/jpeg": {}, "image/png": {}}},
        "304": {"description": "Not modified (If-None-Match)"},
    })
    @blp.error(404, "Unknown token")
    @blp.error(410, "CODE_REVOKED")
    @blp.error(503, "WECHAT_NOT_CONFIGURED (use the plain QR code), WECHAT_UNAVAILABLE, or UNAVAILABLE (the "
                    "database is busy; Retry-After)")
    def get(self, token):
        """The code as a WeChat mini-program code, made by WeChat once and stored (public)."""
        stored = service.mini_program_code(session=db.session, token=token)
        db.session.commit()
        headers = {"ETag": f'"{stored.sha256[:32]}"', "Cache-Control": f"public, max-age={IMAGE_MAX_AGE}"}
        if request.if_none_match.contains(stored.sha256[:32]):
            return current_app.response_class(status=304, headers=headers)
        return current_app.response_class(stored.image, mimetype=stored.content_type, headers=headers)


@blp.route(f"/codes/<{TOKEN}:token>/revoke")
class CodeRevoke(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(RevokeSchema)
    @blp.response(200, CodeSchema)
    @blp.error(404, "Unknown token")
    @blp.error(409, "Already revoked")
    def post(self, data, token):
        """Revoke a code (stolen poster, forgeries) and issue its subject a new one."""
        code = service.revoke(session=db.session, token=token, reason=data["reason"],
                              by_account_id=current_account().id)
        db.session.commit()
        context = view_context()
        colour = code_colour.subject_colour(session=db.session, code=code, today=context["today"])
        return service.code_view(code, colour=colour, base_url=context["base_url"])


@blp.route(f"/codes/<{TOKEN}:token>/scans")
class CodeScans(MethodView):
    @login_required(*REGULATORS)
    @blp.arguments(ScanCountArgs, location="query", as_kwargs=True)
    @blp.response(200, ScanCountsSchema)
    @blp.error(404, "Unknown token")
    def get(self, token, since=None, until=None):
        """How often a code was scanned, per day (regulators). Nothing about who scanned is kept."""
        code = service.find(session=db.session, token=token)
        current_app.extensions["scan_counter"].flush(db.engine)
        until = until or view_context()["today"]
        since = since or until - dt.timedelta(days=30)
        days = scans.daily_counts(session=db.session, code_id=code.id, since=since, until=until)
        return {"token": code.token, "total": sum(d["count"] for d in days), "days": days}


@blp.route(f"/scan/<{TOKEN}:token>")
class Scan(MethodView):
    @blp.response(200, ProfileSchema)
    @blp.error(404, "Unknown code")
    @blp.error(410, "Revoked code (CODE_REVOKED)")
    def get(self, token):
        """The public profile behind a code: what anyone who scans it sees (no login)."""
        entry = scan_answer(token)
        etag = f'"{entry.etag}"'
        headers = {"ETag": etag, "Cache-Control": PROFILE_CACHE_CONTROL}
        if request.if_none_match.contains(entry.etag):
            return current_app.response_class(status=304, headers=headers)
        return current_app.response_class(entry.content, mimetype="application/json", headers=headers)


@blp.route(f"/commitments/<{ID}:commitment_id>/document", tags=["selfcheck"])  # documented with the commitments
class CommitmentDocument(MethodView):
    @login_required(optional=True)
    @blp.doc(responses={"200": {"description": "Printable A4 HTML page with the institution's code",
                                "content": {"text/html": {}}}})
    @blp.error(404, "Unknown, or not in force and not yours")
    def get(self, commitment_id):
        """The commitment as a printable page for the clinic wall (public while in force)."""
        today = today_shanghai()
        commitment = commitments.get(session=db.session, commitment_id=commitment_id)
        commitments.check_may_read(commitment, current_account(optional=True), today)
        institution = commitment.institution
        qr_svg = None
        if institution.code is not None:
            base_url = current_app.config["PUBLIC_BASE_URL"]
            ink = code_colour.colour_of(institution=institution, today=today)
            svg = service.render(service.urls(institution.code.token, base_url)["url"], ink, "svg", 4).decode()
            qr_svg = svg[svg.index("<svg"):]
        status_text = {"breached": "该机构已违背此承诺", "superseded": "此承诺已由新承诺替代"}.get(
            commitment.status, "此承诺已过有效期")
        html = render_template(
            "selfcheck/commitment.html", commitment=commitment, institution=institution, qr_svg=qr_svg,
            title=commitments.texts()[commitment.version]["title"] if commitment.version in commitments.texts()
            else "信用承诺书",
            in_force=commitments.in_force(commitment, today), status_text=status_text,
            signed_at=commitment.signed_at.astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M"),
        )
        return html, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}


# ---- public disclosure (双随机一公开) ----------------------------------------------------------------

@disclosure_blp.route("/inspections")
class PublicInspections(MethodView):
    @disclosure_blp.arguments(DisclosureArgs, location="query", as_kwargs=True)
    @disclosure_blp.response(200, page_schema(PublicResultSchema))
    @disclosure_blp.error(422, "VALIDATION_FAILED: an unknown department, a year out of range, a page_size over 100")
    def get(self, page, page_size, **filters):
        """Public inspection results across institutions, newest published first (public, no login). A
        record awaiting legal review, or returned by it, is not shown."""
        statement = disclosure.query(today=today_shanghai(), **filters)
        return disclosure.page(session=db.session, statement=statement, page=page, page_size=page_size)


@disclosure_blp.route("/penalties")
class PublicPenalties(MethodView):
    @disclosure_blp.arguments(DisclosureArgs, location="query", as_kwargs=True)
    @disclosure_blp.response(200, page_schema(PublicPenaltySchema))
    @disclosure_blp.error(422, "VALIDATION_FAILED: an unknown department, a year out of range, a page_size over 100")
    def get(self, page, page_size, **filters):
        """Approved penalties of public inspections (法制审核 passed) of the public window (policy
        `public_years`), newest published first (public, no login)."""
        statement = disclosure.query(today=today_shanghai(), penalties=True, **filters)
        return disclosure.page(session=db.session, statement=statement, page=page, page_size=page_size,
                               penalties=True)
