"""Self-inspection filings (依法执业自查, 国卫监督发〔2020〕18号): filing, review, rectification, and the
leads they feed (a non-compliant veto item at once; a missed period or a rectification past due in the
daily sweep).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import and_, exists, select

from api.access import ADMIN, INSTITUTION, scope_to_account
from api.database import SHANGHAI, SessionLike, lock_row, today_shanghai, utcnow
from api.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotVisible,
    ValidationFailed,
)
from api.models import Account
from api.text import normal_name
from leads import service as leads
from registry.credit_snapshot import mark_credit_stale
from registry.models import Institution
from selfcheck import periods, templates
from selfcheck.models import Rectification, SelfCheck, SelfCheckAnswer

REVIEW_DECISIONS = ("accepted", "returned")
REVIEWING_DEPARTMENT = "health"  # self-inspection is health supervision's (国卫监督发〔2020〕18号)


def signer_role(institution: Institution, signer_name: str) -> str:
    """The signer must be the legal representative or the principal (第一责任人) on record."""
    signer_name = normal_name(signer_name)  # names on record before they were normalised still match
    if signer_name == normal_name(institution.legal_representative):
        return "legal_representative"
    if signer_name == normal_name(institution.principal):
        return "principal"
    raise ValidationFailed(fields={"signer_name": ["签署人须为登记的法定代表人或主要负责人"]})


def check_answers(template, answers: list[dict], today: dt.date) -> list[SelfCheckAnswer]:
    """Every item of the template answered exactly once; a non-compliant one with a full plan."""
    items = {item["code"]: item for item in template.items}
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for answer in answers:
        code = answer["item_code"]
        if code not in items:
            errors.setdefault("answers", []).append(f"{code}：不是该检查表的条目")
        elif code in seen:
            errors.setdefault("answers", []).append(f"{code}：重复作答")
        seen.add(code)
        if answer["result"] == "non_compliant":
            plan = answer.get("rectification") or {}
            missing = [name for name in ("plan", "owner", "due_date") if not plan.get(name)]
            if missing:
                errors[f"answers.{code}.rectification"] = ["不符合项须填写整改措施、责任人和整改期限"]
            elif plan["due_date"] < today:
                errors[f"answers.{code}.rectification.due_date"] = ["整改期限不能早于今天"]
    missing_items = [code for code in items if code not in seen]
    if missing_items:
        errors["missing_items"] = missing_items
    if errors:
        raise ValidationFailed("自查表未填写完整", fields=errors)
    rows = []
    for answer in answers:
        item, plan = items[answer["item_code"]], answer.get("rectification") or {}
        non_compliant = answer["result"] == "non_compliant"
        rows.append(SelfCheckAnswer(
            item_code=item["code"], area=item["area"], tier=item["tier"], text=item["text"], result=answer["result"],
            note=answer.get("note"), rectification_plan=plan.get("plan") if non_compliant else None,
            rectification_owner=plan.get("owner") if non_compliant else None,
            rectification_due=plan.get("due_date") if non_compliant else None,
        ))
    return rows


def file(*, session: SessionLike, account: Account, template_id: int, period: str, answers: list[dict], signer_name: str,
         today: dt.date | None = None) -> SelfCheck:
    """File a self-inspection for the account's institution. A period with a live filing is a 409; a
    returned one is corrected by a new revision pointing at it."""
    today = today or today_shanghai()
    institution = session.get_one(Institution, account.institution_id)
    template = templates.get(session=session, template_id=template_id)
    if institution.category not in template.categories:
        raise ValidationFailed(fields={"template_id": ["该检查表不适用于本机构类别"]})
    filed_period = periods.for_filing(period, today)
    rows = check_answers(template, answers, today)
    role = signer_role(institution, signer_name)
    # Locked before anything is stored: a filing's row share-locks the institution (foreign key), and
    # two filings each holding that while waiting to lock it for a lead would deadlock.
    lock_row(session, Institution, institution.id)
    earlier = session.scalars(select(SelfCheck).where(SelfCheck.institution_id == institution.id,
                                                      SelfCheck.period == filed_period.label)
                              .order_by(SelfCheck.revision.desc())).all()
    if any(filing.status != "returned" for filing in earlier):
        raise Conflict(f"{filed_period.label} 已提交过自查，不能重复提交")
    filing = SelfCheck(
        institution_id=institution.id, template_id=template.id, period=filed_period.label,
        revision=(earlier[0].revision + 1) if earlier else 1, previous_id=earlier[0].id if earlier else None,
        status="submitted", signer_name=signer_name, signer_role=role, submitted_by_id=account.id,
        submitted_at=utcnow(), answers=rows,
        non_compliant_count=sum(r.result == "non_compliant" for r in rows),
        veto_count=sum(r.result == "non_compliant" and r.tier == "veto" for r in rows),
    )
    session.add(filing)
    session.flush()
    if filing.non_compliant_count:  # open items raise a graded institution's quantified risk level
        mark_credit_stale(session=session, institution_id=institution.id)
    vetoes = [r for r in rows if r.result == "non_compliant" and r.tier == "veto"]
    if vetoes:  # a serious finding: a high-priority lead at once
        leads.add_reasons(session=session, institution_id=institution.id, reasons=[
            leads.reason("veto_item", f"{filing.period} 自查 {r.item_code} 不符合：{r.text}", filing.submitted_at,
                         ref=f"veto:{filing.period}:{r.item_code}")
            for r in vetoes
        ])
    return filing


def visible_query(*, account: Account):
    statement = select(SelfCheck).order_by(SelfCheck.submitted_at.desc(), SelfCheck.id.desc())
    return scope_to_account(statement, account, SelfCheck.institution_id)


def filing_query(*, account: Account, institution_id: int | None = None, period: str | None = None,
                 status: str | None = None, has_veto: bool | None = None):
    statement = visible_query(account=account)
    if institution_id:
        statement = statement.where(SelfCheck.institution_id == institution_id)
    if period:
        statement = statement.where(SelfCheck.period == period)
    if status:
        statement = statement.where(SelfCheck.status == status)
    if has_veto is not None:
        statement = statement.where((SelfCheck.veto_count > 0) if has_veto else (SelfCheck.veto_count == 0))
    return statement


def get_visible(*, session: SessionLike, account: Account, selfcheck_id: int) -> SelfCheck:
    filing = session.scalar(visible_query(account=account).where(SelfCheck.id == selfcheck_id))
    if filing is None:
        raise NotVisible("未找到该自查记录")
    return filing


def check_reviewer(account: Account) -> None:
    """Self-inspection is health supervision's (国卫监督发〔2020〕18号): its officers review, and admins."""
    if account.role != ADMIN and account.department != REVIEWING_DEPARTMENT:
        raise Forbidden("自查审核由卫生健康部门负责")


def review(*, session: SessionLike, filing: SelfCheck, account: Account, decision: str, note: str | None = None) -> SelfCheck:
    """Accept, or return for correction (with a note saying what to correct); health reviewers only."""
    check_reviewer(account)
    if filing.status != "submitted":
        raise InvalidTransition("只能审核待审核的自查")
    if decision == "returned" and not note:
        raise ValidationFailed(fields={"note": ["退回时请说明需要更正的内容"]})
    filing.status, filing.review_note = decision, note
    filing.reviewed_at, filing.reviewed_by_id = utcnow(), account.id
    session.flush()
    if decision == "returned" and filing.non_compliant_count:  # a returned filing's items no longer count
        mark_credit_stale(session=session, institution_id=filing.institution_id)
    return filing


def record_rectification(*, session: SessionLike, filing: SelfCheck, account: Account, item_code: str, done_on: dt.date,
                         note: str, today: dt.date | None = None) -> Rectification:
    today = today or today_shanghai()
    if account.role != INSTITUTION or account.institution_id != filing.institution_id:
        raise Forbidden("只有本机构可以登记整改")
    answer = next((a for a in filing.answers if a.item_code == item_code), None)
    if answer is None:
        raise ValidationFailed(fields={"item_code": [f"{item_code} 不是本次自查的条目"]})
    if answer.result != "non_compliant":
        raise ValidationFailed(fields={"item_code": [f"{item_code} 不是不符合项，无需整改"]})
    if done_on > today:
        raise ValidationFailed(fields={"done_on": ["整改完成日期不能晚于今天"]})
    if session.scalar(select(Rectification.id).where(Rectification.answer_id == answer.id)):
        raise Conflict(f"{item_code} 已登记整改")
    rectification = Rectification(answer_id=answer.id, done_on=done_on, note=note, recorded_by_id=account.id)
    session.add(rectification)
    session.flush()
    mark_credit_stale(session=session, institution_id=filing.institution_id)  # one open item fewer
    return rectification


def rectifications_of(*, session: SessionLike, filing: SelfCheck) -> dict[int, Rectification]:
    rows = session.scalars(select(Rectification).join(SelfCheckAnswer)
                           .where(SelfCheckAnswer.selfcheck_id == filing.id)).all()
    return {r.answer_id: r for r in rows}


def view(filing: SelfCheck, rectifications: dict[int, Rectification] | None = None) -> dict:
    rectifications = rectifications or {}

    def answer_view(answer: SelfCheckAnswer) -> dict:
        done = rectifications.get(answer.id)
        return {
            "item_code": answer.item_code, "area": answer.area, "tier": answer.tier, "text": answer.text,
            "result": answer.result, "note": answer.note,
            "rectification": None if answer.result != "non_compliant" else {
                "plan": answer.rectification_plan, "owner": answer.rectification_owner,
                "due_date": answer.rectification_due,
                "done_on": done.done_on if done else None, "done_note": done.note if done else None,
            },
        }

    return {
        "id": filing.id, "institution_id": filing.institution_id, "institution_name": filing.institution.name,
        "template_id": filing.template_id, "template_version": filing.template.version, "period": filing.period,
        "revision": filing.revision, "previous_id": filing.previous_id, "status": filing.status,
        "signer_name": filing.signer_name, "signer_role": filing.signer_role, "submitted_at": filing.submitted_at,
        "non_compliant_count": filing.non_compliant_count, "veto_count": filing.veto_count,
        "reviewed_at": filing.reviewed_at, "review_note": filing.review_note,
        "answers": [answer_view(a) for a in filing.answers],
    }


def summary_view(filing: SelfCheck) -> dict:
    return {k: v for k, v in view(filing).items() if k != "answers"}


# ---- the daily sweep: deadlines that passed become lead reasons ------------------------------------

def overdue_rectifications(*, session: SessionLike, today: dt.date):
    """(institution_id, period, item_code, text, due) of non-compliant items past due and not put right,
    in live filings: one query."""
    return session.execute(
        select(SelfCheck.institution_id, SelfCheck.period, SelfCheckAnswer.item_code, SelfCheckAnswer.text,
               SelfCheckAnswer.rectification_due)
        .join(SelfCheck, SelfCheck.id == SelfCheckAnswer.selfcheck_id)
        .where(SelfCheckAnswer.result == "non_compliant", SelfCheckAnswer.rectification_due < today,
               SelfCheck.status != "returned",
               ~exists().where(Rectification.answer_id == SelfCheckAnswer.id))
    ).all()


def missed_period(*, session: SessionLike, today: dt.date):
    """(institution_id, period label) of active institutions registered before the last quarter past its
    deadline that filed nothing for it (a full-year filing submitted in that quarter counts): one query."""
    period = periods.last_quarter_past_due(today)
    quarter_start = dt.datetime.combine(period.start, dt.time.min, tzinfo=SHANGHAI)
    quarter_end = dt.datetime.combine(period.due, dt.time.max, tzinfo=SHANGHAI)
    filed = exists().where(
        SelfCheck.institution_id == Institution.id,
        (SelfCheck.period == period.label)
        | and_(SelfCheck.period == str(period.year), SelfCheck.submitted_at >= quarter_start,
               SelfCheck.submitted_at <= quarter_end),
    )
    rows = session.execute(
        select(Institution.id).where(Institution.status == "active", Institution.created_at < quarter_start, ~filed)
    ).all()
    return period, [row.id for row in rows]


def sweep_leads(*, session: SessionLike, today: dt.date | None = None,
                progress: Callable[[int, int], None] | None = None) -> int:
    """Turn passed self-check deadlines into lead reasons (each once: reasons carry a ref). Returns how
    many institutions got a new reason. Run daily (`flask refresh-leads`, the worker's daily task) or
    from POST /leads/refresh. `progress(done, total)` hears each institution with reasons."""
    today = today or today_shanghai()
    now = utcnow()
    by_institution: dict[int, list[dict]] = {}
    for institution_id, period, code, text, due in overdue_rectifications(session=session, today=today):
        by_institution.setdefault(institution_id, []).append(leads.reason(
            "rectification_overdue", f"{period} 自查 {code} 整改逾期（期限 {due}）：{text}", now,
            ref=f"rectification:{period}:{code}"))
    period, missed = missed_period(session=session, today=today)
    for institution_id in missed:
        by_institution.setdefault(institution_id, []).append(leads.reason(
            "missed_selfcheck", f"{period.label} 未按期自查（应于 {period.due} 前提交）", now,
            ref=f"missed:{period.label}"))
    changed = 0
    for done, (institution_id, reasons) in enumerate(sorted(by_institution.items()), start=1):  # locked in id order
        if leads.add_unseen_reasons(session=session, institution_id=institution_id, reasons=reasons):
            changed += 1
        if progress is not None:
            progress(done, len(by_institution))
    return changed
