"""Per-request values that views need: today's Beijing date and the public origin printed in codes."""

from __future__ import annotations

from flask import current_app

from api.database import today_shanghai

ID = "int(min=1, max=2147483647)"  # URL converter for database ids: larger numbers are a plain 404


def view_context() -> dict:
    return {"today": today_shanghai(), "base_url": current_app.config["PUBLIC_BASE_URL"]}
