"""Views of the process catalogue, the start form and the instance page."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...services import catalog, documents, instance_overview, instances
from ...services.errors import NotFound, ServiceError, ValidationFailed
from .. import jsonform
from ..common import actor
from . import bp


@bp.route("/processes")
@login_required
def catalogue() -> Any:
    """The processes the official may start."""
    return render_template("instances/catalog.html", processes=catalog.startable_processes(actor()))


def _render_start(
    start: catalog.StartForm,
    values: dict[str, Any],
    unit_id: int | None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Any:
    errors = dict(errors or {})
    unit_errors = errors.pop("org_unit_id", [])
    form = jsonform.build(start.schema, values, errors)
    return render_template(
        "instances/start.html",
        start=start,
        form=form,
        unit_id=unit_id,
        unit_errors=unit_errors,
        error_message=message,
    ), status


def _own_username_fields(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Required `…_username` start fields without a default name the starter (the applicant)."""
    props = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    return {
        name: actor().username
        for name, prop in props.items()
        if name.endswith("_username")
        and name in required
        and isinstance(prop, dict)
        and "default" not in prop
    }


@bp.route("/processes/<key>/start", methods=["GET", "POST"])
@login_required
def start(key: str) -> Any:
    """Choose the org unit and the start parameters, then start the process."""
    start_form = catalog.start_form(actor(), key)
    units = start_form.process.units
    if request.method == "GET":
        prefilled = _own_username_fields(start_form.schema)
        return _render_start(start_form, prefilled, units[0].id if len(units) == 1 else None)
    raw_unit = request.form.get("org_unit_id", "")
    unit_id = int(raw_unit) if raw_unit.isdigit() else None
    data = jsonform.parse(start_form.schema, request.form)
    if unit_id is None:
        return _render_start(
            start_form,
            data,
            None,
            {"org_unit_id": [_("Выберите организацию.")]},
            _("Форма заполнена с ошибками."),
            422,
        )
    try:
        instance = instances.start_instance(actor(), key, unit_id, data)
    except (ValidationFailed, NotFound) as exc:
        return _render_start(start_form, data, unit_id, exc.errors, exc.message, 422)
    flash(_("Процесс «%(name)s» запущен.", name=start_form.process.name), "success")
    return redirect(url_for("instances.detail", instance_id=instance.id), 303)


@bp.route("/instances/<int:instance_id>")
@login_required
def detail(instance_id: int) -> Any:
    """Status, open tasks, the audit timeline and the diagram of an instance."""
    view = instance_overview.overview(actor(), instance_id)
    return render_template(
        "instances/detail.html", view=view, materials=documents.materials(actor(), instance_id)
    )


def _back(instance_id: int) -> Any:
    """Back to the task page the form was sent from, else to the instance's materials."""
    task_id = request.form.get("task_id", "")
    if task_id.isdigit():
        return redirect(url_for("inbox.task", task_id=int(task_id)) + "#materials", 303)
    return redirect(url_for("instances.detail", instance_id=instance_id) + "#materials", 303)


def _flash_error(exc: ServiceError) -> None:
    details = [m for messages in exc.errors.values() for m in messages]
    flash(" ".join([exc.message, *details]), "danger")


@bp.route("/instances/<int:instance_id>/comments", methods=["POST"])
@login_required
def add_comment(instance_id: int) -> Any:
    """A participant's comment on the instance."""
    try:
        documents.add_comment(actor(), instance_id, request.form.get("body", ""))
    except NotFound:
        raise
    except ServiceError as exc:
        _flash_error(exc)
    else:
        flash(_("Комментарий добавлен."), "success")
    return _back(instance_id)


@bp.route("/instances/<int:instance_id>/attachments", methods=["POST"])
@login_required
def add_attachment(instance_id: int) -> Any:
    """A participant's file attached to the instance."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Выберите файл для загрузки."), "danger")
        return _back(instance_id)
    try:
        attachment = documents.add_attachment(
            actor(), instance_id, upload.filename, upload.read(), upload.mimetype or ""
        )
    except NotFound:
        raise
    except ServiceError as exc:
        _flash_error(exc)
    else:
        flash(_("Файл «%(name)s» добавлен.", name=attachment.filename), "success")
    return _back(instance_id)


@bp.route("/attachments/<int:attachment_id>/download")
@login_required
def download(attachment_id: int) -> Any:
    """The file, always as a download (never rendered inline in the application's origin)."""
    attachment, content = documents.download(actor(), attachment_id)
    return send_file(
        BytesIO(content),
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=attachment.filename,
        max_age=0,
    )
