"""Supervision command-line task: recompute-credit (daily)."""

from __future__ import annotations

import click

from api.cli import progress_bar
from api.database import db
from supervision import credit


@click.command("recompute-credit")
def recompute_credit_command():
    """Recompute every institution's credit (the worker runs it daily at 01:00 Beijing time; events
    recompute their own institution at once)."""
    with progress_bar("recomputing credit") as report:
        changed = credit.recompute(session=db.session, reason="daily recomputation", progress=report)
    db.session.commit()
    click.echo(f"{changed} institution(s) changed")


COMMANDS = (recompute_credit_command,)
