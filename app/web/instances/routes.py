"""Views of the process catalogue, the start form and the instance page."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...services import catalog, instance_overview, instances
from ...services.errors import NotFound, ValidationFailed
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


@bp.route("/processes/<key>/start", methods=["GET", "POST"])
@login_required
def start(key: str) -> Any:
    """Choose the org unit and the start parameters, then start the process."""
    start_form = catalog.start_form(actor(), key)
    units = start_form.process.units
    if request.method == "GET":
        return _render_start(start_form, {}, units[0].id if len(units) == 1 else None)
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
    return render_template(
        "instances/detail.html", view=instance_overview.overview(actor(), instance_id)
    )
