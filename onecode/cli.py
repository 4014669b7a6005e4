"""seed-demo: a small demo data set across the packages (directory, codes, checklist templates,
accounts, a joint inspection plan and visit), so it lives with the composition root rather than in any
one package."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from sqlalchemy import select
from stdnum.cn import ric, uscc

from api import accounts
from api.database import db, today_shanghai
from api.models import Account
from directory import service as directory
from registry.models import Institution
from selfcheck import templates
from supervision import plans, records
from supervision.models import Inspection, InspectionPlan

DEMO_PASSWORD = "onecode-demo-2026"  # noqa: S105 - printed for local demos; seed-demo refuses production


def _uscc(prefix17: str) -> str:
    return prefix17 + uscc.calc_check_digit(prefix17)


def _ric(prefix17: str) -> str:
    return prefix17 + ric.calc_check_digit(prefix17 + "0")  # it expects a placeholder check digit


def demo_institutions(today: dt.date) -> list[dict]:
    """Fictional institutions covering the states a scan can show: valid, expiring, expired."""
    year = dt.timedelta(days=365)
    return [
        {"name": "示例市仁和诊所", "uscc": _uscc("52370112MJD000011"), "licence_no": "PDY00001-137011217D2112",
         "category": "clinic", "scope": ["内科", "外科", "预防保健科"], "address": "示例市历城区山大路 1 号",
         "street": "山大路街道", "legal_representative": "王仁和", "principal": "王仁和",
         "licence_valid_from": today - year, "licence_valid_to": today + 4 * year, "phone": "0531-88000001",
         "staff": [("李明", "physician", "主治医师", "临床", "内科专业"), ("赵芳", "nurse", "主管护师", "护理", "护理专业"),
                   ("孙强", "pharmacist", "药师", "药学", "西药")]},
        {"name": "示例市皓齿口腔诊所", "uscc": _uscc("91370112MA3C00022"), "licence_no": "PDY00002-137011217D2152",
         "category": "dental", "scope": ["口腔科"], "address": "示例市历城区华信路 8 号", "street": "洪家楼街道",
         "legal_representative": "陈皓", "principal": "陈皓", "licence_valid_from": today - 4 * year,
         "licence_valid_to": today + dt.timedelta(days=20), "phone": "0531-88000002",
         "staff": [("陈皓", "physician", "副主任医师", "口腔", "口腔专业")]},
        {"name": "示例市丽颜医疗美容诊所", "uscc": _uscc("91370112MA3C00033"),
         "licence_no": "PDY00003-137011217D2162", "category": "cosmetic", "scope": ["医疗美容科"],
         "address": "示例市历城区花园路 66 号", "street": "洪家楼街道", "legal_representative": "周丽",
         "principal": "周丽", "licence_valid_from": today - 5 * year, "licence_valid_to": today - dt.timedelta(days=10),
         "phone": None, "staff": [("周丽", "physician", "主治医师", "临床", "医疗美容专业")]},
    ]


@click.command("seed-demo")
def seed_demo_command():
    """Load a small demo data set (idempotent) and print logins and scan URLs."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("seed-demo loads demo accounts with a known password; not in production")
    base_url = current_app.config["PUBLIC_BASE_URL"]
    templates.load_files(session=db.session)
    made = []
    for number, spec in enumerate(demo_institutions(today_shanghai()), start=1):
        spec = dict(spec)
        staff = spec.pop("staff")
        institution = db.session.scalar(select(Institution).where(Institution.uscc == spec["uscc"]))
        if institution is None:
            institution = directory.create_institution(session=db.session, data=spec)
            for index, (name, role, title, category, scope) in enumerate(staff, start=1):
                directory.create_staff(session=db.session, institution=institution, data={
                    "name": name, "role": role, "title": title, "practice_category": category,
                    "practice_scope": scope, "id_number": _ric(f"3701121990{number:02d}{index:02d}10{index}"),
                    "practice_cert_no": f"1103701{number:02d}{index:03d}0001",
                })
        made.append(institution)
    logins = [("admin", "admin", None, None), ("health-officer", "officer", "health", None),
              ("health-supervisor", "supervisor", "health", None), ("market-officer", "officer", "market", None),
              ("market-supervisor", "supervisor", "market", None), ("clinic", "institution", None, made[0].id)]
    for username, role, department, institution_id in logins:
        if db.session.scalar(select(Account.id).where(Account.username == username)) is None:
            accounts.create_account(session=db.session, username=username, password=DEMO_PASSWORD, role=role,
                                    department=department, institution_id=institution_id)
    _joint_plan_and_visit(made)
    db.session.commit()
    click.echo(f"Demo logins (password {DEMO_PASSWORD}):")
    for username, role, department, _ in logins:
        click.echo(f"  {username}: {role}" + (f", {department}" if department else "")
                   + (f", {made[0].name}" if role == "institution" else ""))
    click.echo("Scan URLs:")
    for institution in made:
        click.echo(f"  {institution.name}: {base_url}/c/{institution.code.token}")
    click.echo(f"API docs: {base_url}/api/v1/docs")


DEMO_PLAN_ITEMS = [  # check items the health and market departments bring (一单), with the rule each checks
    {"department": "health", "code": "WS-01", "text": "是否取得《医疗机构执业许可证》并在有效期内、按核准的诊疗科目执业",
     "basis": "《医疗机构管理条例》"},
    {"department": "health", "code": "WS-02", "text": "医疗废物是否分类收集、规范暂存并交有资质的单位处置",
     "basis": "《医疗废物管理条例》"},
    {"department": "market", "code": "SJ-01", "text": "医疗服务和药品价格是否明码标价", "basis": "《中华人民共和国价格法》"},
    {"department": "market", "code": "SJ-02", "text": "医疗广告是否取得《医疗广告审查证明》并按审查内容发布",
     "basis": "《医疗广告管理办法》"},
]


def _joint_plan_and_visit(made: list[Institution]) -> None:
    """This year's joint health and market plan for every demo institution, and one joint visit under it
    (a pass), once."""
    today = today_shanghai()
    name = f"{today.year} 年医疗服务领域“综合监管一件事”联合检查计划"
    plan = db.session.scalar(select(InspectionPlan).where(InspectionPlan.year == today.year,
                                                          InspectionPlan.name == name))
    supervisor = db.session.scalars(select(Account).where(Account.username == "health-supervisor")).one()
    if plan is None:
        plan = plans.create(session=db.session, account=supervisor, year=today.year, name=name,
                            departments=["health", "market"], items=DEMO_PLAN_ITEMS,
                            due_on=dt.date(today.year, 12, 31))
    if db.session.scalar(select(Inspection.id).where(Inspection.plan_id == plan.id).limit(1)) is None:
        officer = db.session.scalars(select(Account).where(Account.username == "health-officer")).one()
        market = db.session.scalars(select(Account).where(Account.username == "market-officer")).one()
        records.record(session=db.session, account=officer, institution_id=made[0].id, inspected_on=today,
                       summary="卫健、市场监管联合检查，未发现违法违规问题", public=True, departments=["health", "market"],
                       plan_id=plan.id, inspector_ids=[market.id], findings=[
                           {"department": "health", "item_code": "WS-01", "result": "pass", "note": "许可证在有效期内"},
                           {"department": "market", "item_code": "SJ-01", "result": "pass", "note": "价格公示规范"}])


COMMANDS = (seed_demo_command,)
