"""Public command-line task: build-profiles (after a release that changes what profiles show)."""

from __future__ import annotations

import click

from api.context import view_context
from api.database import db
from public import ready


@click.command("build-profiles")
def build_profiles_command():
    """Build every code's ready profile that is not current (scans build them anyway, one by one)."""
    built = ready.build_all(session=db.session, **view_context())
    click.echo(f"{built} profile(s) built")


COMMANDS = (build_profiles_command,)
