"""Checklist templates: data files under selfcheck/templates/ (`<key>-v<version>.json`), loaded into
the database by `flask load-templates`, or published by an admin through the API as a new version.

A published version never changes: filings point at it. Loading a file whose key and version exist
with other items is an error (publish a new version instead).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select

from api.database import SessionLike
from api.errors import Conflict, NotFound, ValidationFailed
from registry.models import CATEGORIES
from selfcheck.models import AREAS, TIERS, ChecklistTemplate

TEMPLATE_DIR = Path(__file__).parent / "templates"
_CODE = re.compile(r"^[A-Z]{2,5}-[A-Z]{2,5}-\d{2,3}$")


def check_items(items: list[dict]) -> list[dict]:
    """Every item: a unique code, a known area and tier, a text and a legal basis."""
    errors: list[str] = []
    seen: set[str] = set()
    clean = []
    for index, item in enumerate(items):
        code = item.get("code", "")
        if not _CODE.match(code):
            errors.append(f"items[{index}]: code {code!r} should look like GEN-LIC-01")
        if code in seen:
            errors.append(f"items[{index}]: duplicate code {code}")
        seen.add(code)
        if item.get("area") not in AREAS:
            errors.append(f"{code}: unknown area {item.get('area')!r}")
        if item.get("tier") not in TIERS:
            errors.append(f"{code}: unknown tier {item.get('tier')!r}")
        if not item.get("text") or not item.get("basis"):
            errors.append(f"{code}: text and basis are required")
        clean.append({k: item.get(k) for k in ("code", "area", "tier", "text", "basis")})
    if not items:
        errors.append("a template needs items")
    if errors:
        raise ValidationFailed("检查表模板有误", fields={"items": errors})
    return clean


def check_categories(categories: list[str]) -> list[str]:
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown or not categories:
        raise ValidationFailed(fields={"categories": [f"未知的机构类别：{', '.join(unknown) or '（空）'}"]})
    return categories


def load_files(*, session: SessionLike, directory: Path = TEMPLATE_DIR) -> list[ChecklistTemplate]:
    """Insert each file's version if missing; returns the templates inserted."""
    added = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        items = check_items(data["items"])
        existing = session.scalar(select(ChecklistTemplate).where(
            ChecklistTemplate.key == data["key"], ChecklistTemplate.version == data["version"]))
        if existing is not None:
            if existing.items != items:
                raise Conflict(f"{path.name}: {data['key']} v{data['version']} is published with other items; "
                               "publish a new version instead of editing this one")
            continue
        template = ChecklistTemplate(key=data["key"], version=data["version"], name=data["name"],
                                     categories=check_categories(data["categories"]), basis=data.get("basis"),
                                     items=items)
        session.add(template)
        added.append(template)
    session.flush()
    return added


def publish(*, session: SessionLike, key: str, name: str, categories: list[str], items: list[dict], published_by_id: int,
            basis: str | None = None) -> ChecklistTemplate:
    """A new version of `key` (version 1 if it is new). The template's own legal basis is optional
    (each item carries its own)."""
    latest = session.scalar(select(func.max(ChecklistTemplate.version)).where(ChecklistTemplate.key == key)) or 0
    template = ChecklistTemplate(key=key, version=latest + 1, name=name, categories=check_categories(categories),
                                 basis=basis, items=check_items(items), published_by_id=published_by_id)
    session.add(template)
    session.flush()
    return template


def current(*, session: SessionLike, category: str | None = None) -> list[ChecklistTemplate]:
    """The latest version of each template, optionally only those for an institution category."""
    latest = (select(ChecklistTemplate.key, func.max(ChecklistTemplate.version).label("version"))
              .group_by(ChecklistTemplate.key).subquery())
    templates = session.scalars(
        select(ChecklistTemplate).join(latest, (ChecklistTemplate.key == latest.c.key)
                                       & (ChecklistTemplate.version == latest.c.version))
        .order_by(ChecklistTemplate.key)
    ).all()
    return [t for t in templates if category is None or category in t.categories]


def get(*, session: SessionLike, template_id: int) -> ChecklistTemplate:
    template = session.get(ChecklistTemplate, template_id)
    if template is None:
        raise NotFound("未找到该检查表模板")
    return template


def view(template: ChecklistTemplate, category: str | None = None) -> dict:
    return {
        "id": template.id, "key": template.key, "version": template.version, "name": template.name,
        "category": category or template.categories[0], "categories": template.categories,
        "basis": template.basis, "published_at": template.published_at,
        "items": [item | {"area_name": AREAS[item["area"]], "tier_name": TIERS[item["tier"]]}
                  for item in template.items],
    }
