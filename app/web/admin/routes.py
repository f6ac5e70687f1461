"""Views of administration: parse the form, call one service, render or redirect."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from ...models import TIERS
from ...services import admin, admin_users, import_jobs, org_import, substitution, task_admin
from ...services.errors import ServiceError, ValidationFailed
from ...services.roles import ROLES
from ..common import actor, held_roles
from . import bp

PER_PAGE = 25
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _local_moment(value: str | None, field: str) -> datetime | None:
    """A datetime-local (or date) input in the display time zone, as an aware datetime."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(
            _("Некорректная дата."), {field: [_("Ожидается дата и время.")]}
        ) from exc
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _confirmed() -> bool:
    return request.form.get("confirm") == "yes"


# --- org tree -------------------------------------------------------------------------------


@bp.route("/")
@login_required
def units() -> Any:
    """The org tree of the admin's scope, with forms to add, rename, move and close units."""
    nodes = admin.tree(actor())
    return render_template("admin/units.html", nodes=nodes, tiers=TIERS)


@bp.route("/units", methods=["POST"])
@login_required
def unit_create() -> Any:
    """Create a unit under a unit of the scope."""
    try:
        unit = admin.create_unit(
            actor(),
            request.form.get("slug", ""),
            request.form.get("name", ""),
            request.form.get("tier", ""),
            _int(request.form.get("parent_id")),
        )
    except ValidationFailed as exc:
        flash(_err(exc), "danger")
    else:
        flash(_("Организация «%(name)s» создана.", name=unit.name), "success")
    return redirect(url_for("admin.units"), 303)


@bp.route("/units/<int:unit_id>", methods=["POST"])
@login_required
def unit_change(unit_id: int) -> Any:
    """Rename, move or close a unit (the button pressed says which)."""
    action = request.form.get("action")
    try:
        if action == "rename":
            admin.rename_unit(actor(), unit_id, request.form.get("name", ""))
            flash(_("Название изменено."), "success")
        elif action == "move":
            parent = _int(request.form.get("parent_id"))
            if parent is None:
                raise ValidationFailed(
                    _("Выберите организацию."), {"parent_id": [_("Обязательно.")]}
                )
            admin.move_unit(actor(), unit_id, parent)
            flash(_("Организация перенесена."), "success")
        elif action == "close":
            if not _confirmed():
                raise ValidationFailed(
                    _("Подтвердите закрытие организации."), {"confirm": [_("Обязательно.")]}
                )
            admin.close_unit(actor(), unit_id, request.form.get("reason", ""))
            flash(_("Организация закрыта, её назначения ролей завершены."), "success")
    except ValidationFailed as exc:
        flash(_err(exc), "danger")
    return redirect(url_for("admin.units"), 303)


def _err(exc: ServiceError) -> str:
    details = "; ".join(m for msgs in exc.errors.values() for m in msgs)
    return f"{exc.message} {details}".strip()


# --- users ----------------------------------------------------------------------------------


@bp.route("/users")
@login_required
def users() -> Any:
    """Users of the scope (or everyone, briefly), with search and pages."""
    admin.require_admin(actor())
    page = _int(request.args.get("page")) or 1
    everyone = request.args.get("all") == "1"
    result = admin_users.search_users(
        actor(),
        request.args.get("q", ""),
        in_scope_only=not everyone,
        page=page,
        per_page=PER_PAGE,
    )
    pages = max(1, -(-result.total // PER_PAGE))
    return render_template(
        "admin/users.html",
        result=result,
        pages=pages,
        everyone=everyone,
        q=request.args.get("q", ""),
    )


@bp.route("/users", methods=["POST"])
@login_required
def user_create() -> Any:
    """Create a user; a local user without a password gets a one-time setup token (shown once)."""
    try:
        created = admin_users.create_user(
            actor(),
            request.form.get("username", ""),
            request.form.get("full_name", ""),
            request.form.get("email") or None,
            request.form.get("password") or None,
            request.form.get("auth_source", "local"),
        )
    except (ValidationFailed, ServiceError) as exc:
        if exc.status not in (409, 422):
            raise
        flash(_err(exc), "danger")
        return redirect(url_for("admin.users"), 303)
    if created.setup_token:
        flash(
            _(
                "Пользователь создан. Одноразовый токен установки пароля (показан один раз): "
                "%(token)s",
                token=created.setup_token,
            ),
            "warning",
        )
    else:
        flash(_("Пользователь создан."), "success")
    return redirect(url_for("admin.user", user_id=created.user.id), 303)


@bp.route("/users/<int:user_id>")
@login_required
def user(user_id: int) -> Any:
    """A user's page: record, grants with periods, substitutions, actions."""
    admin.require_admin(actor())
    record = admin_users.get_user(actor(), user_id)
    subs = substitution.list_for(actor(), user_id).items if record.full else []
    scope_units = [n.unit for n in admin.tree(actor(), include_closed=False)]
    return render_template(
        "admin/user.html",
        record=record,
        view=admin_users.describe(record),
        subs=subs,
        sub_status=substitution.status,
        grant_status=admin.grant_status,
        roles=ROLES,
        units=scope_units,
    )


@bp.route("/users/<int:user_id>/action", methods=["POST"])
@login_required
def user_action(user_id: int) -> Any:
    """Deactivate, activate or reset the password of a user."""
    action = request.form.get("action")
    try:
        if action in ("deactivate", "activate"):
            if action == "deactivate" and not _confirmed():
                raise ValidationFailed(
                    _("Подтвердите отключение учётной записи."), {"confirm": [_("Обязательно.")]}
                )
            change = (
                admin_users.deactivate_user if action == "deactivate" else admin_users.activate_user
            )
            change(actor(), user_id, request.form.get("reason", ""))
            flash(_("Учётная запись изменена."), "success")
        elif action == "reset":
            if not _confirmed():
                raise ValidationFailed(
                    _("Подтвердите сброс пароля."), {"confirm": [_("Обязательно.")]}
                )
            token = admin_users.reset_password(actor(), user_id)
            flash(
                _("Пароль сброшен. Одноразовый токен (показан один раз): %(token)s", token=token),
                "warning",
            )
    except (ValidationFailed, ServiceError) as exc:
        if exc.status not in (409, 422):
            raise
        flash(_err(exc), "danger")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.route("/users/<int:user_id>/grants", methods=["POST"])
@login_required
def grant(user_id: int) -> Any:
    """Grant a role for a period with a reason."""
    try:
        unit_id = _int(request.form.get("org_unit_id"))
        if unit_id is None:
            raise ValidationFailed(_("Выберите организацию."), {"org_unit_id": [_("Обязательно.")]})
        admin.grant_role(
            actor(),
            user_id,
            request.form.get("role", ""),
            unit_id,
            request.form.get("reason", ""),
            _local_moment(request.form.get("valid_from"), "valid_from"),
            _local_moment(request.form.get("valid_to"), "valid_to"),
        )
        flash(_("Роль назначена."), "success")
    except (ValidationFailed, ServiceError) as exc:
        if exc.status not in (409, 422):
            raise
        flash(_err(exc), "danger")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.route("/grants/<int:grant_id>/revoke", methods=["POST"])
@login_required
def revoke(grant_id: int) -> Any:
    """Revoke a grant (after confirmation) with a reason."""
    user_id = _int(request.form.get("user_id")) or 0
    try:
        if not _confirmed():
            raise ValidationFailed(_("Подтвердите отзыв роли."), {"confirm": [_("Обязательно.")]})
        admin.revoke_grant(actor(), grant_id, request.form.get("reason", ""))
        flash(_("Роль отозвана."), "success")
    except (ValidationFailed, ServiceError) as exc:
        if exc.status not in (409, 422):
            raise
        flash(_err(exc), "danger")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.route("/users/<int:user_id>/substitutions", methods=["POST"])
@login_required
def substitute(user_id: int) -> Any:
    """Name a substitute (by username) for this user for a period."""
    admin.require_admin(actor())  # before the lookup: nobody else learns which names exist
    try:
        other = admin_users.by_username(request.form.get("substitute", "").strip())
        if other is None:
            raise ValidationFailed(
                _("Замещающий не найден."), {"substitute": [_("Нет такого пользователя.")]}
            )
        start = _local_moment(request.form.get("valid_from"), "valid_from")
        end = _local_moment(request.form.get("valid_to"), "valid_to")
        if start is None or end is None:
            raise ValidationFailed(
                _("Укажите период замещения."), {"valid_to": [_("Начало и окончание.")]}
            )
        substitution.create(actor(), user_id, other.id, start, end, request.form.get("reason", ""))
        flash(_("Замещение назначено."), "success")
    except (ValidationFailed, ServiceError) as exc:
        if exc.status not in (409, 422):
            raise
        flash(_err(exc), "danger")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.route("/substitutions/<int:substitution_id>/cancel", methods=["POST"])
@login_required
def substitution_cancel(substitution_id: int) -> Any:
    """End a substitution now (after confirmation)."""
    user_id = _int(request.form.get("user_id")) or 0
    try:
        if not _confirmed():
            raise ValidationFailed(
                _("Подтвердите отмену замещения."), {"confirm": [_("Обязательно.")]}
            )
        substitution.cancel(actor(), substitution_id, request.form.get("reason", ""))
        flash(_("Замещение отменено."), "success")
    except (ValidationFailed, ServiceError) as exc:
        if exc.status not in (409, 422):
            raise
        flash(_err(exc), "danger")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.route("/substitutions")
@login_required
def substitutions() -> Any:
    """Current and planned substitutions in the scope."""
    page = substitution.list_for(actor(), current_only=True, per_page=200)
    return render_template(
        "admin/substitutions.html", subs=page.items, sub_status=substitution.status
    )


# --- open tasks: reassignment ---------------------------------------------------------------


@bp.route("/tasks")
@login_required
def tasks() -> Any:
    """Open tasks of the admin's scope, with search; each links to its reassignment form."""
    page = _int(request.args.get("page")) or 1
    q = request.args.get("q", "")
    assignee = request.args.get("assignee") or None
    result = task_admin.open_tasks(actor(), q=q, assignee=assignee, page=page, per_page=PER_PAGE)
    pages = max(1, -(-result.total // PER_PAGE))
    return render_template(
        "admin/tasks.html", result=result, pages=pages, q=q, assignee=assignee or ""
    )


@bp.route("/tasks/<int:task_id>")
@login_required
def task_reassign_form(task_id: int) -> Any:
    """The reassignment form of one task: who may take it, the reason, the confirmation."""
    people = task_admin.eligible_assignees(actor(), task_id)
    task = task_admin.task_for_admin(actor(), task_id)
    return render_template("admin/task_reassign.html", task=task, people=people)


@bp.route("/tasks/<int:task_id>/reassign", methods=["POST"])
@login_required
def task_reassign(task_id: int) -> Any:
    """Give the task to the chosen holder of its role, or release it (after confirmation)."""
    target = (request.form.get("username") or "").strip()
    try:
        if not _confirmed():
            raise ValidationFailed(
                _("Подтвердите переназначение задачи."), {"confirm": [_("Обязательно.")]}
            )
        if not target:
            raise ValidationFailed(
                _("Выберите нового исполнителя."), {"username": [_("Обязательно.")]}
            )
        task = task_admin.reassign(
            actor(), task_id, None if target == "-" else target, request.form.get("reason", "")
        )
    except (ValidationFailed, ServiceError) as exc:
        if exc.status not in (409, 422):
            raise
        flash(_err(exc), "danger")
        return redirect(url_for("admin.task_reassign_form", task_id=task_id), 303)
    if task.claimed_by_username:
        flash(
            _(
                "Задача «%(name)s» передана пользователю %(user)s.",
                name=task.name,
                user=task.claimed_by_username,
            ),
            "success",
        )
    else:
        flash(_("Задача «%(name)s» возвращена в общий список.", name=task.name), "success")
    return redirect(url_for("admin.tasks"), 303)


# --- import ---------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_page() -> Any:
    """Upload a CSV: a dry run shows the report here; a real import runs with a progress bar."""
    admin.require_admin(actor())
    if request.method == "GET":
        return render_template("admin/import.html", report=None, errors=None)
    upload = request.files.get("file")
    raw = upload.read(MAX_IMPORT_BYTES + 1) if upload is not None else b""
    errors: list[str] | None = None
    if not raw:
        errors = [_("Выберите файл CSV.")]
    elif len(raw) > MAX_IMPORT_BYTES:
        errors = [_("Файл больше 20 МБ.")]
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            errors = [_("Файл не в кодировке UTF-8.")]
    if errors:
        return render_template("admin/import.html", report=None, errors=errors), 422
    if request.form.get("dry_run") == "yes":
        try:
            report = org_import.import_csv(text, actor(), dry_run=True)
        except ValidationFailed as exc:
            rows = org_import.parse_failure(exc) or [exc.message]
            return render_template("admin/import.html", report=None, errors=rows), 422
        return render_template("admin/import.html", report=report, errors=None)
    job_id = import_jobs.start(actor(), text, (upload.filename if upload else "") or "")
    return redirect(url_for("admin.import_job", job_id=job_id), 303)


@bp.route("/import/<job_id>")
@login_required
def import_job(job_id: str) -> Any:
    """The progress page of an import (polls the JSON status)."""
    return render_template("admin/import_job.html", job=import_jobs.status(actor(), job_id))


@bp.route("/import/<job_id>/status")
@login_required
def import_status(job_id: str) -> Any:
    """The progress of an import as JSON, for the progress bar."""
    return jsonify(import_jobs.status(actor(), job_id))


@bp.route("/import/<job_id>/tokens", methods=["POST"])
@login_required
def import_tokens(job_id: str) -> Any:
    """Download the one-time setup tokens of an import as CSV, once."""
    tokens = import_jobs.take_tokens(actor(), job_id)
    body = "username,setup_token\n" + "".join(f"{u},{t}\n" for u, t in tokens.items())
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="setup-tokens-{job_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.app_context_processor
def _admin_link() -> dict[str, Any]:
    """Whether the navbar shows «Администрирование» (the user holds the admin role now)."""

    def show() -> bool:
        return admin.ADMIN_ROLE in held_roles()

    return {"show_admin_link": show}
