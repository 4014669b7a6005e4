"""Self-inspection command-line tasks: load-templates, refresh-leads (daily)."""

from __future__ import annotations

import click

from api.cli import progress_bar
from api.database import db
from api.errors import DomainError
from selfcheck import service as selfcheck
from selfcheck import templates


@click.command("load-templates")
def load_templates_command():
    """Publish the checklist templates of selfcheck/templates/ that the database does not have yet."""
    try:
        added = templates.load_files(session=db.session)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(f"{error.message} {error.fields or ''}".strip()) from None
    db.session.commit()
    for template in added:
        click.echo(f"published {template.key} v{template.version} ({len(template.items)} items)")
    click.echo(f"{len(added)} new template version(s)")


@click.command("refresh-leads")
def refresh_leads_command():
    """Turn passed self-inspection deadlines into inspection leads (the worker runs it daily at 01:00
    Beijing time; this command is for running it by hand)."""
    with progress_bar("refreshing leads") as report:
        changed = selfcheck.sweep_leads(session=db.session, progress=report)
    db.session.commit()
    click.echo(f"{changed} institution(s) with new lead reasons")


COMMANDS = (load_templates_command, refresh_leads_command)
