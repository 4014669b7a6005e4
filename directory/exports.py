"""The directory export: institutions as the list filters them, with licence status and credit.

The credit columns are what the scan shows (the stored snapshot with today's licence status and
commitment applied, supervision.service.institution_credit), so a printed list and a scanned code agree.
"""

from __future__ import annotations

from api import spreadsheets
from api.labels import (
    COLOUR_NAMES,
    INSTITUTION_STATUS_NAMES,
    LIST_NAMES,
    RISK_NAMES,
    SUPERVISION_MODE_NAMES,
)
from codes import service as codes
from registry import licence
from registry.models import CATEGORIES, Institution
from supervision import service as supervision

COLUMNS = (  # (header, width); the first thirteen are the import template's, in its order
    ("名称", 30), ("统一社会信用代码", 22), ("登记号", 26), ("类别", 14), ("诊疗科目", 30), ("地址", 36),
    ("街道", 14), ("法定代表人", 12), ("主要负责人", 12), ("有效期自", 12), ("有效期至", 12), ("电话", 16),
    ("远程监控", 10), ("机构编号", 10), ("执业状态", 10), ("许可证状态", 12), ("信用等级", 10),
    ("不良执业记分", 12), ("码色", 8), ("名单", 14), ("监管方式", 16), ("风险等级", 10), ("码链接", 44),
    ("登记时间", 18),
)
headers = [name for name, _ in COLUMNS]
widths = [width for _, width in COLUMNS]
TITLE = "机构名录"


def rows(*, session, statement, today, base_url: str):
    for institution in spreadsheets.streamed(session, statement, scalars=True):
        yield row(institution, today=today, base_url=base_url)


def row(institution: Institution, *, today, base_url: str) -> list:
    status = licence.of(institution, today)
    credit = supervision.institution_credit(institution, status, today)
    code = institution.code
    return [
        institution.name, institution.uscc, institution.licence_no,
        CATEGORIES.get(institution.category, institution.category), institution.scope or [], institution.address,
        institution.street, institution.legal_representative, institution.principal, institution.licence_valid_from,
        institution.licence_valid_to, institution.phone, institution.remote_monitoring, institution.id,
        INSTITUTION_STATUS_NAMES.get(institution.status, institution.status),
        licence.LICENCE_STATUS_NAMES.get(status, status), credit.grade, credit.points,
        COLOUR_NAMES[credit.colour], [LIST_NAMES[name] for name in credit.lists],
        SUPERVISION_MODE_NAMES.get(credit.supervision_mode, credit.supervision_mode), RISK_NAMES.get(credit.risk_level),
        codes.urls(code.token, base_url)["url"] if code is not None else None, institution.created_at,
    ]
