"""The self-inspection export: one row per non-compliant item, with its filing's facts and the
rectification (planned and, once recorded, done); a filing without any non-compliant item is one row
with the item columns blank, so every filing of the list appears."""

from __future__ import annotations

from sqlalchemy import and_
from sqlalchemy.orm import defaultload

from api import spreadsheets
from registry.models import Institution
from selfcheck.models import AREAS, TIERS, Rectification, SelfCheck, SelfCheckAnswer

STATUS_NAMES = {"submitted": "待审核", "accepted": "已通过", "returned": "已退回"}
SIGNER_ROLES = {"legal_representative": "法定代表人", "principal": "主要负责人"}

COLUMNS = (  # (header, width)
    ("自查编号", 10), ("机构编号", 10), ("机构名称", 30), ("统一社会信用代码", 22), ("检查表", 24), ("自查周期", 10),
    ("修订次数", 10), ("状态", 10), ("签署人", 12), ("签署人身份", 12), ("提交时间", 18), ("不符合项数", 12),
    ("一票否决项数", 12), ("审核时间", 18), ("审核意见", 30), ("条目编号", 12), ("检查领域", 16), ("条目等级", 10),
    ("条目内容", 50), ("自查说明", 30), ("整改措施", 40), ("整改责任人", 12), ("整改期限", 12),
    ("整改完成日期", 14), ("整改情况", 30),
)
headers = [name for name, _ in COLUMNS]
widths = [width for _, width in COLUMNS]
TITLE = "自查不符合项"


def statement_for(filings):
    """The filings of `filings` (service.filing_query), each joined to its non-compliant answers and
    their recorded rectifications; a filing without any keeps one row of NULLs."""
    return (filings.add_columns(SelfCheckAnswer, Rectification)
            .outerjoin(SelfCheckAnswer, and_(SelfCheckAnswer.selfcheck_id == SelfCheck.id,
                                             SelfCheckAnswer.result == "non_compliant"))
            .outerjoin(Rectification, Rectification.answer_id == SelfCheckAnswer.id)
            .order_by(SelfCheckAnswer.id)
            .options(defaultload(SelfCheck.institution).lazyload(Institution.code)))


def rows(*, session, filings):
    for filing, answer, done in spreadsheets.streamed(session, statement_for(filings)):
        yield row(filing, answer, done)


def row(filing: SelfCheck, answer: SelfCheckAnswer | None, done: Rectification | None) -> list:
    institution = filing.institution
    item = [None] * 10
    if answer is not None:
        item = [answer.item_code, AREAS.get(answer.area, answer.area), TIERS.get(answer.tier, answer.tier),
                answer.text, answer.note, answer.rectification_plan, answer.rectification_owner,
                answer.rectification_due, done.done_on if done else None, done.note if done else None]
    return [
        filing.id, filing.institution_id, institution.name, institution.uscc,
        f"{filing.template.name}（第 {filing.template.version} 版）", filing.period, filing.revision,
        STATUS_NAMES.get(filing.status, filing.status), filing.signer_name,
        SIGNER_ROLES.get(filing.signer_role, filing.signer_role), filing.submitted_at, filing.non_compliant_count,
        filing.veto_count, filing.reviewed_at, filing.review_note, *item,
    ]
