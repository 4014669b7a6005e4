"""Auth and account endpoints, and the health check."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from sqlalchemy import text

from api import accounts, audit, auth, policy, wechat
from api.access import ADMIN
from api.account_schemas import (
    AccountCreateSchema,
    AccountSchema,
    AuditEntrySchema,
    AuditListArgs,
    LoginSchema,
    RefreshSchema,
    TokenPairSchema,
    WeChatLoginSchema,
)
from api.auth import current_account, login_required
from api.database import db
from api.errors import DomainError
from api.extensions import Blueprint, limiter, password_login_limit
from api.schemas import PolicyArgs, PolicySchema, page_schema, paginate

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Accounts and auth")
health = Blueprint("health", __name__, description="Liveness and readiness")
policies = Blueprint("policy", __name__, url_prefix="/api/v1",
                     description="Policy parameters (政策参数): the local numbers the rules use, versioned")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@blp.route("/auth/login")
class Login(MethodView):
    decorators = [password_login_limit()]

    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.error(401, "INVALID_CREDENTIALS: wrong username or password (same answer)")
    @blp.error(429, "RATE_LIMITED")
    def post(self, data):
        """Log in with username and password."""
        account = auth.authenticate(session=db.session, **data)
        tokens = auth.issue_tokens(session=db.session, account=account)
        db.session.commit()
        return tokens


@blp.route("/auth/wechat")
class WeChatLogin(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @blp.arguments(WeChatLoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.error(401, "INVALID_CREDENTIALS: invalid, used or expired code, or a blocked WeChat user")
    @blp.error(429, "RATE_LIMITED (ours, or WeChat's 45011)")
    @blp.error(503, "WECHAT_UNAVAILABLE (WeChat unreachable or failing), WECHAT_NOT_CONFIGURED, or UNAVAILABLE "
                    "(the database is busy; Retry-After)")
    def post(self, data):
        """Log in from the mini-program: the wx.login() code is exchanged with WeChat; role citizen."""
        openid, unionid = wechat.code_to_session(data["code"])
        account = wechat.find_or_create_citizen(session=db.session, openid=openid, unionid=unionid)
        tokens = auth.issue_tokens(session=db.session, account=account)
        db.session.commit()
        return tokens


@blp.route("/auth/refresh")
class Refresh(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.error(401, "Unknown, expired, revoked or already used refresh token")
    @blp.error(429, "RATE_LIMITED")
    def post(self, data):
        """Trade a refresh token for a new pair. Each refresh token works once."""
        try:
            tokens = auth.rotate_refresh_token(session=db.session, refresh_token=data["refresh_token"])
        except DomainError:
            db.session.commit()  # a detected reuse must stay recorded even though the call fails
            raise
        db.session.commit()
        return tokens


@blp.route("/auth/logout")
class Logout(MethodView):
    @login_required()
    @blp.response(204)
    def post(self):
        """End this login: the access token and its refresh tokens are refused from now on."""
        auth.end_session(session=db.session, session_id=auth.current_session_id())
        db.session.commit()


@blp.route("/accounts")
class Accounts(MethodView):
    @login_required(ADMIN)
    @blp.arguments(AccountCreateSchema)
    @blp.response(201, AccountSchema)
    @blp.error(409, "Username taken")
    def post(self, data):
        """Create an account (admin)."""
        account = accounts.create_account(session=db.session, **data)
        db.session.commit()
        return account


@blp.route("/me")
class Me(MethodView):
    @login_required()
    @blp.response(200, AccountSchema)
    def get(self):
        """The account behind the access token."""
        return current_account()


@blp.route("/audit-log")
class AuditLog(MethodView):
    @login_required(ADMIN)
    @blp.arguments(AuditListArgs, location="query", as_kwargs=True)
    @blp.response(200, page_schema(AuditEntrySchema))
    def get(self, page, page_size, **filters):
        """Who read personal data (complainants' contacts, attachments) and when, newest first (admin)."""
        return paginate(db.session, audit.query(**filters), page=page, page_size=page_size)


def _health_body(status: str) -> dict:
    schema = {"type": "object", "properties": {"status": {"type": "string", "enum": [status]}},
              "required": ["status"], "additionalProperties": False}
    return {"content": {"application/json": {"schema": schema}}}


@health.route("/healthz")
class Health(MethodView):
    @health.doc(responses={"200": {"description": "The database answers", **_health_body("ok")},
                           "503": {"description": "The database does not answer", **_health_body("unavailable")}})
    def get(self):
        """Liveness and readiness: 200 when the database answers, else 503."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:  # any database failure means "not ready"
            current_app.logger.warning("health check: database unreachable", exc_info=True)
            db.session.rollback()
            return {"status": "unavailable"}, 503
        return {"status": "ok"}


@policies.route("/policy")
class PolicyInForce(MethodView):
    @policies.arguments(PolicyArgs, location="query", as_kwargs=True)
    @policies.response(200, PolicySchema)
    def get(self, on):
        """The policy version in force today (or on `on`): every parameter, and the text that sets it or
        that it is a local policy parameter. Public: these numbers decide grades and colours anyone sees."""
        book = policy.book()
        shown = book.in_force(on) if on else policy.in_force()
        return {**shown.public(), "versions": [{"version": v.version, "effective_from": v.effective_from,
                                                "title": v.title} for v in book.versions]}

