"""Views of the inbox: parse the request, call a service, render or redirect."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...services import documents, inbox, task_context, task_drafts, tasks
from ...services.errors import Conflict, NotAllowed, NotFound, ServiceError, ValidationFailed
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


def _materials(ctx: task_context.TaskContext) -> documents.Materials | None:
    try:
        return documents.materials(actor(), ctx.instance.id)
    except NotFound:  # e.g. a substitute who sees the task but is no participant yet
        return None


def _render_task(
    ctx: task_context.TaskContext,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Any:
    materials = _materials(ctx)
    files = [(a.id, a.filename) for a in materials.attachments] if materials else []
    if values is None:
        use_draft = ctx.draft is not None and ctx.can_act
        values = ctx.draft.data if use_draft and ctx.draft else ctx.values
    form = jsonform.build(ctx.form, values, errors, files)
    steps = [(step, jsonform.describe(step.schema, step.data)) for step in ctx.steps]
    return render_template(
        "inbox/task.html",
        ctx=ctx,
        form=form,
        steps=steps,
        materials=materials,
        error_message=message,
    ), status


def _messages(exc: ServiceError) -> list[str]:
    return [m for messages in exc.errors.values() for m in messages] or [exc.message]


def _with_uploads(
    ctx: task_context.TaskContext, data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Attach the files chosen in the form's attachment fields; their ids join the data."""
    errors: dict[str, list[str]] = {}
    for name in jsonform.attachment_fields(ctx.form):
        ids = list(data.get(name) or [])
        for upload in request.files.getlist(name + jsonform.UPLOAD_SUFFIX):
            if not upload.filename:
                continue
            try:
                attachment = documents.add_attachment(
                    actor(), ctx.instance.id, upload.filename, upload.read(), upload.mimetype or ""
                )
            except (ValidationFailed, NotAllowed, Conflict, NotFound) as exc:
                errors.setdefault(name, []).extend(
                    f"«{documents.safe_filename(upload.filename)}»: {m}" for m in _messages(exc)
                )
                continue
            ids.append(attachment.id)
        if ids or name in data:
            data[name] = ids
    return data, errors


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
    data, upload_errors = _with_uploads(ctx, jsonform.parse(ctx.form, request.form))
    if upload_errors:
        return _render_task(ctx, data, upload_errors, _("Не удалось загрузить файлы."), 422)
    try:
        tasks.complete(actor(), task_id, data)
    except ValidationFailed as exc:
        return _render_task(ctx, data, exc.errors, exc.message, 422)
    except Conflict as exc:
        flash(exc.message, "warning")
        return redirect(url_for("inbox.index"), 303)
    flash(_("Задача «%(name)s» выполнена.", name=ctx.task.name), "success")
    return redirect(url_for("inbox.index"), 303)


@bp.route("/tasks/<int:task_id>/draft", methods=["POST"])
@login_required
def save_draft(task_id: int) -> Any:
    """Keep the entered values, valid or not, to continue later."""
    ctx = task_context.context(actor(), task_id)
    data, upload_errors = _with_uploads(ctx, jsonform.parse(ctx.form, request.form))
    try:
        task_drafts.save(actor(), task_id, data)
    except (ValidationFailed, Conflict, NotAllowed) as exc:
        return _render_task(ctx, data, exc.errors, exc.message, exc.status)
    if upload_errors:
        return _render_task(ctx, data, upload_errors, _("Не удалось загрузить файлы."), 422)
    flash(_("Черновик сохранён. Его увидите только вы."), "success")
    return redirect(url_for("inbox.task", task_id=task_id), 303)


@bp.route("/tasks/<int:task_id>/draft/discard", methods=["POST"])
@login_required
def discard_draft(task_id: int) -> Any:
    """Forget the saved draft and show the form as the process fills it."""
    try:
        if task_drafts.discard(actor(), task_id):
            flash(_("Черновик удалён."), "success")
    except (Conflict, NotAllowed) as exc:
        flash(exc.message, "warning")
    return redirect(url_for("inbox.task", task_id=task_id), 303)


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
