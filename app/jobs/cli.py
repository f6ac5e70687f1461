"""`flask jobs …`: the job runner and a look at what waits."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..extensions import db
from ..models import HumanTask, Notification
from ..models import notification as states
from ..models.base import utcnow
from ..services import calendar, timers
from .runner import run_loop

jobs_cli = AppGroup("jobs", help="Таймеры, напоминания и уведомления.")


@jobs_cli.command("run")
@click.option("--once", is_flag=True, help="Один проход и выход.")
@click.option("--interval", type=float, default=None, help="Пауза между проходами, секунд.")
@click.option(
    "--enqueue/--inline",
    default=None,
    help="Отправлять экземпляры в очередь Celery (по умолчанию — если задан CELERY_BROKER_URL).",
)
def jobs_run(once: bool, interval: float | None, enqueue: bool | None) -> None:
    """Advance due timers, send reminders and e-mails, in a loop (or once)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if enqueue is None:
        enqueue = bool(app.config.get("CELERY_BROKER_URL"))
    if enqueue and not app.config.get("CELERY_BROKER_URL"):
        raise click.UsageError("Для --enqueue задайте CELERY_BROKER_URL.")
    pause = interval if interval is not None else float(app.config["JOBS_INTERVAL_SECONDS"])
    mode = "очередь Celery" if enqueue else "встроенный"
    if not once:
        click.echo(f"Обработчик заданий запущен ({mode}), интервал {pause:g} с.")
    run_loop(app, pause, once=once, enqueue=enqueue, echo=click.echo)
    if not once:
        click.echo("Обработчик заданий остановлен.")


@jobs_cli.command("status")
def jobs_status() -> None:
    """Due timers, overdue tasks and e-mails waiting to be sent."""
    now = utcnow()
    due = len(timers.due_instance_ids(now, limit=100000))
    overdue = db.session.execute(
        select(func.count(HumanTask.id)).where(HumanTask.status == "open", HumanTask.due_at < now)
    ).scalar_one()
    pending = db.session.execute(
        select(func.count(Notification.id)).where(Notification.email_status == states.EMAIL_PENDING)
    ).scalar_one()
    click.echo(f"Экземпляров с наступившим таймером: {due}")
    click.echo(f"Просроченных открытых задач: {overdue}")
    click.echo(f"Писем в очереди на отправку: {pending}")


@jobs_cli.command("deadline")
@click.argument("start", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]))
@click.argument("working_days", type=click.IntRange(0, calendar.MAX_WORKING_DAYS))
def jobs_deadline(start: datetime, working_days: int) -> None:
    """Print the deadline N working days after START by the holiday calendar."""
    zone = calendar.deadline_zone()
    try:
        due = calendar.working_deadline(start.replace(tzinfo=zone), working_days)
    except calendar.CalendarError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{due.astimezone(zone):%Y-%m-%d %H:%M:%S %Z} ({due.isoformat()})")
