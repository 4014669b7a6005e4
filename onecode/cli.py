"""seed-demo: a small demo data set across the packages (directory, codes, checklist templates,
accounts), so it lives with the composition root rather than in any one package."""

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
              ("clinic", "institution", None, made[0].id)]
    for username, role, department, institution_id in logins:
        if db.session.scalar(select(Account.id).where(Account.username == username)) is None:
            accounts.create_account(session=db.session, username=username, password=DEMO_PASSWORD, role=role,
                                    department=department, institution_id=institution_id)
    db.session.commit()
    click.echo(f"Demo logins (password {DEMO_PASSWORD}):")
    for username, role, department, _ in logins:
        click.echo(f"  {username}: {role}" + (f", {department}" if department else "")
                   + (f", {made[0].name}" if role == "institution" else ""))
    click.echo("Scan URLs:")
    for institution in made:
        click.echo(f"  {institution.name}: {base_url}/c/{institution.code.token}")
    click.echo(f"API docs: {base_url}/api/v1/docs")


COMMANDS = (seed_demo_command,)
