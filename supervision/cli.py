"""Supervision command-line task: recompute-credit (daily)."""

from __future__ import annotations

import click

from api.database import db
from supervision import credit


@click.command("recompute-credit")
def recompute_credit_command():
    """Recompute every institution's credit (daily; events recompute their own institution at once)."""
    changed = credit.recompute(session=db.session, reason="daily recomputation")
    db.session.commit()
    click.echo(f"{changed} institution(s) changed")


COMMANDS = (recompute_credit_command,)
