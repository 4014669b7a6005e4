"""The core's command-line task: create-account (API.md, Accounts and auth). Each package registers its
own commands (`<package>.cli.COMMANDS`); the app factory (onecode) adds them all."""

from __future__ import annotations

import os

import click

from api import accounts
from api.database import db
from api.errors import DomainError
from api.models import DEPARTMENTS, ROLES


@click.command("create-account")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--department", type=click.Choice(list(DEPARTMENTS)))
@click.option("--institution-id", type=int)
def create_account_command(username, role, department, institution_id):
    """Create an account; the password comes from ONECODE_PASSWORD or a prompt."""
    password = os.environ.get("ONECODE_PASSWORD") or click.prompt("Password", hide_input=True,
                                                                   confirmation_prompt=True)
    try:
        account = accounts.create_account(session=db.session, username=username, password=password, role=role,
                                          department=department, institution_id=institution_id)
    except DomainError as error:
        db.session.rollback()
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.fields or {}).items())
        raise click.ClickException(f"{error.message} {details}".strip()) from None
    db.session.commit()
    click.echo(f"created account {account.username} (id {account.id}, role {account.role})")


COMMANDS = (create_account_command,)
