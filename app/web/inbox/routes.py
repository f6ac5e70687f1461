"""Views of the inbox: parse the request, call a service, render or redirect."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...services import inbox, task_context, tasks
from ...services.errors import Conflict, ValidationFailed
from .. import jsonform
from ..common import actor
from . import bp


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _query(args: Any) -> inbox.InboxQuery:
    return inbox.InboxQuery(
        tab=args.get("tab", ""),
        process_key=args.get("process") or None,
        org_unit_id=_int(args.get("unit")),
        due=args.get("due") or None,
        search=args.get("q", ""),
        sort=args.get("sort", "due"),
        descending=args.get("dir") == "desc",
        page=_int(args.get("page")) or 1,
        per_page=current_app.config.get("INBOX_PER_PAGE", 25),
    ).normalised()


@bp.route("/")
@login_required
def index() -> Any:
    """The inbox: tabs, filters, sortable columns and pages."""
    page = inbox.list_tasks(
        actor(), _query(request.args), tz=current_app.config["BABEL_DEFAULT_TIMEZONE"]
    )
    return render_template("inbox/list.html", page=page)


def _render_task(
    ctx: task_context.TaskContext,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Any:
    form = jsonform.build(ctx.form, ctx.values if values is None else values, errors)
    steps = [(step, jsonform.describe(step.schema, step.data)) for step in ctx.steps]
    return render_template(
        "inbox/task.html", ctx=ctx, form=form, steps=steps, error_message=message
    ), status


@bp.route("/tasks/<int:task_id>")
@login_required
def task(task_id: int) -> Any:
    """The task page: the form, the actions and the instance context."""
    return _render_task(task_context.context(actor(), task_id))


@bp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@login_required
def complete(task_id: int) -> Any:
    """Submit the form; errors come back next to the fields with the values kept."""
    ctx = task_context.context(actor(), task_id)
    data = jsonform.parse(ctx.form, request.form)
    try:
        tasks.complete(actor(), task_id, data)
    except ValidationFailed as exc:
        return _render_task(ctx, data, exc.errors, exc.message, 422)
    except Conflict as exc:
        flash(exc.message, "warning")
        return redirect(url_for("inbox.index"), 303)
    flash(_("Задача «%(name)s» выполнена.", name=ctx.task.name), "success")
    return redirect(url_for("inbox.index"), 303)


def _after_action(task_id: int, action: Any, done: str, then: str | None = None) -> Any:
    try:
        action()
    except (Conflict, ValidationFailed) as exc:
        details = [m for messages in exc.errors.values() for m in messages]
        flash(" ".join([exc.message, *details]), "danger")
    else:
        flash(done, "success")
        if then:
            return redirect(then, 303)
    return redirect(url_for("inbox.task", task_id=task_id), 303)


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int) -> Any:
    """Take the task into work."""
    return _after_action(
        task_id, lambda: tasks.claim(actor(), task_id), _("Задача взята в работу.")
    )


@bp.route("/tasks/<int:task_id>/unclaim", methods=["POST"])
@login_required
def unclaim(task_id: int) -> Any:
    """Give the task back to everyone it is offered to."""
    return _after_action(
        task_id, lambda: tasks.unclaim(actor(), task_id), _("Задача возвращена в общий список.")
    )


@bp.route("/tasks/<int:task_id>/delegate", methods=["POST"])
@login_required
def delegate(task_id: int) -> Any:
    """Hand the task to a colleague with the same role."""
    username = request.form.get("username", "").strip()
    return _after_action(
        task_id,
        lambda: tasks.delegate(actor(), task_id, username),
        _("Задача передана пользователю %(user)s.", user=username),
        then=url_for("inbox.index"),
    )
