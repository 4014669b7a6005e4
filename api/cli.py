"""The core's commands: create-account (API.md, Accounts and auth), worker (the task queue's consumer)
and requeue-jobs. Each package registers its own commands (`<package>.cli.COMMANDS`); the app factory
(onecode) adds them all. progress_bar() is the progress bar of every long command."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

import click
from flask import current_app

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


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A report(done, total) for a service's `progress` argument, drawn as a progress bar on stderr
    (click draws it only on a terminal; in a cron mail or a log it stays quiet)."""
    bar = None
    shown = 0

    def report(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(max(done - shown, 0))
        shown = done

    try:
        yield report
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@click.command("worker")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=2, show_default=True,
              help="jobs run at once (threads of this process)")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="also run the periodic tasks (daily sweeps at 01:00 Beijing time, the jobs' sweeps): on one "
                   "consumer per deployment")
def worker_command(workers, periodic):
    """Run the task queue's consumer: imports and exports started as jobs, and the periodic tasks."""
    queue = current_app.extensions["task_queue"]
    if queue.huey.immediate:
        raise click.ClickException("ONECODE_TASK_QUEUE_URL=memory:// runs each job inside its request: there is "
                                   "no queue to consume")
    requeued = queue.requeue_abandoned()  # a consumer killed mid-job left them running
    if requeued:
        click.echo(f"queued again {len(requeued)} job(s) whose worker had stopped: {requeued}")
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                          check_worker_health=True)
    consumer.run()


@click.command("requeue-jobs")
def requeue_jobs_command():
    """Queue again the running jobs whose worker has stopped (the worker also does it at start and every
    five minutes)."""
    requeued = current_app.extensions["task_queue"].requeue_abandoned()
    click.echo(f"{len(requeued)} job(s) queued again" + (f": {requeued}" if requeued else ""))


COMMANDS = (create_account_command, worker_command, requeue_jobs_command)
