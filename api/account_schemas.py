"""Shapes of the auth and account endpoints (API.md, Accounts and auth)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.audit import ACTIONS
from api.models import DEPARTMENTS, ROLES
from api.schemas import Id, OneOf, PageArgs, StrictSchema, Text

USERNAME = validate.Regexp(r"^[A-Za-z0-9_.@-]{3,64}$", error="用户名为 3-64 位字母、数字或 _.@-")


class LoginSchema(StrictSchema):
    username = Text(required=True, max_length=64)
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class WeChatLoginSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,128}$", error="微信登录凭证格式不正确"),
                         metadata={"description": "the code from wx.login() in the mini-program"})


class RefreshSchema(StrictSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=128))


class AccountSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True, metadata={"enum": list(ROLES)})
    department = fields.String(allow_none=True, metadata={"enum": list(DEPARTMENTS)})
    institution_id = fields.Integer(allow_none=True)


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    account = fields.Nested(AccountSchema, required=True)


class AccountCreateSchema(StrictSchema):
    username = Text(required=True, max_length=64, validate=USERNAME)
    password = fields.String(required=True, validate=validate.Length(min=10, max=128))
    role = OneOf(ROLES, required=True)
    department = OneOf(DEPARTMENTS, allow_none=True)
    institution_id = Id(allow_none=True)


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = fields.AwareDateTime(required=True)
    account_id = fields.Integer(allow_none=True)
    action = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.String(required=True)
    detail = fields.String(allow_none=True)


class AuditListArgs(PageArgs):
    action = OneOf(ACTIONS)
    object_type = Text(max_length=32)
    object_id = Text(max_length=64)
    account_id = Id(strict=False)
