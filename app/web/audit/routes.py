"""Views of the auditor's workspace: parse the query, call one service, render."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...services import audit, audit_export, audit_log, retention, timeline
from ...services.audit_log import AuditFilter
from ...services.errors import ValidationFailed
from .. import jsonform
from ..common import actor, error_page, held_roles
from . import bp

PER_PAGE = 50
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The auditor's own session and settings are not data of the system.
_OWN_ACCOUNT_BLUEPRINTS = frozenset({"auth", "notifications", "notices", "account"})

EVENT_KIND_EXTRA: dict[str, Any] = {
    "instance_migrated": _l("Экземпляр переведён на новую версию"),
    "timer_fired": _l("Сработал таймер"),
    "timer_failed": _l("Ошибка таймера"),
    "reminder_sent": _l("Напоминание о сроке"),
    "escalation": _l("Эскалация по сроку"),
    "scheduled_start_failed": _l("Плановый запуск не удался"),
    "attachment_added": _l("Добавлен файл"),
    "comment_added": _l("Добавлен комментарий"),
    "document_generated": _l("Сформирован документ"),
    "notification_sent": _l("Отправлено уведомление"),
    "personal_data_viewed": _l("Просмотр персональных данных"),
    "audit_exported": _l("Выгрузка журнала аудита"),
    "retention_purged": _l("Удаление по сроку хранения"),
    "signature_given": _l("Документ подписан"),
    "user_record_viewed": _l("Просмотр учётной записи пользователя"),
    "own_data_requested": _l("Запрос своих персональных данных"),
    "mma_register_exported": _l("Выгрузка реестра ММА"),
    "process_deployed": _l("Развёрнут процесс"),
    "role_granted": _l("Назначена роль"),
    "role_revoked": _l("Роль отозвана"),
    "substitution_created": _l("Назначено замещение"),
    "substitution_cancelled": _l("Замещение отменено"),
    "org_unit_created": _l("Создана организация"),
    "org_unit_renamed": _l("Организация переименована"),
    "org_unit_moved": _l("Организация перемещена"),
    "org_unit_closed": _l("Организация закрыта"),
    "org_imported": _l("Импорт организаций и пользователей"),
    "user_created": _l("Создан пользователь"),
    "user_activated": _l("Пользователь включён"),
    "user_deactivated": _l("Пользователь отключён"),
    "user_password_reset": _l("Сброшен пароль"),
    "user_password_set": _l("Пароль установлен"),
    "login_succeeded": _l("Вход"),
    "login_failed": _l("Неудачный вход"),
    "login_locked": _l("Вход заблокирован после неудачных попыток"),
    "logout": _l("Выход"),
    "demo_seeded": _l("Созданы демонстрационные данные"),
}
VERIFY_REASONS: dict[str, Any] = {
    "hash": _l("содержимое события не соответствует его хешу"),
    "link": _l("ссылка на предыдущее событие не совпадает"),
    "missing": _l("событие отсутствует"),
    "checkpoint": _l("события до контрольной точки хранения не совпадают с её сводкой"),
}


@bp.before_app_request
def _auditors_read_only() -> Any:
    """Refuse every UI form that changes something to a user whose only role is auditor."""
    if request.method not in _WRITE_METHODS or request.path.startswith("/api/"):
        return None
    if request.blueprint in _OWN_ACCOUNT_BLUEPRINTS or not current_user.is_authenticated:
        return None
    if audit_log.is_read_only(actor()):
        return error_page(403, _("Аудитор имеет доступ только на чтение: изменять данные нельзя."))
    return None


@bp.app_context_processor
def _audit_link() -> dict[str, Any]:
    """Whether the navbar shows «Аудит» (the user is an auditor or admin now)."""

    def show() -> bool:
        return bool(held_roles().intersection(audit_log.READER_ROLES))

    return {"show_audit_link": show}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _day(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    """A date of the form as an aware moment in the display zone (end: the next midnight)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(
            _("Некорректная дата."), {field: [_("Ожидается дата ГГГГ-ММ-ДД.")]}
        ) from exc
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(), ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def _filter(args: Any) -> AuditFilter:
    return AuditFilter(
        process_key=args.get("process") or None,
        instance_id=_int(args.get("instance")),
        actor=(args.get("actor") or "").strip() or None,
        org_unit_id=_int(args.get("unit")),
        kinds=audit_log.parse_kinds(args.getlist("kind")),
        since=_day(args.get("from"), "from"),
        until=_day(args.get("to"), "to", end=True),
    )


def _labels() -> dict[str, Any]:
    from ..labels import EVENT_KIND

    return {**EVENT_KIND_EXTRA, **EVENT_KIND}


@bp.route("/")
@login_required
def log() -> Any:
    """The log: filters, a page of events with their data and changes, export links."""
    choices = audit_log.filter_choices(actor())
    page_number = _int(request.args.get("page")) or 1
    error: ValidationFailed | None = None
    try:
        flt = _filter(request.args)
    except ValidationFailed as exc:
        flt, error = AuditFilter(), exc
    result = audit_log.events(actor(), flt, page=page_number, per_page=PER_PAGE)
    return render_template(
        "audit/log.html",
        rows=audit_log.describe(result.items),
        result=result,
        pages=max((result.total + PER_PAGE - 1) // PER_PAGE, 1),
        choices=choices,
        args=request.args,
        kinds=set(flt.kinds),
        error=error,
        kind_labels=_labels(),
        export_query=request.query_string.decode("ascii", "ignore"),
    ), (422 if error else 200)


@bp.route("/verify")
@login_required
def verify() -> Any:
    """Recompute the hash chain and show the result."""
    audit_log.require_reader(actor())
    result = audit.verify()
    return render_template(
        "audit/verify.html", result=result, reason=VERIFY_REASONS.get(result.get("reason") or "")
    )


@bp.route("/export")
@login_required
def export() -> Any:
    """Download the filtered view as CSV or JSON Lines, streamed."""
    fmt = request.args.get("format", "csv")
    started = audit_export.start_export(actor(), _filter(request.args), fmt, via="web")
    response = Response(stream_with_context(started.chunks()), content_type=started.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{started.filename}"'
    return response


@bp.route("/instances/<int:instance_id>")
@login_required
def instance_timeline(instance_id: int) -> Any:
    """The story of one instance: steps, people, times, durations, legal basis, path."""
    story = timeline.timeline(actor(), instance_id)
    shown = {s.task_id: jsonform.describe(story.form_of(s), s.data) for s in story.steps if s.data}
    return render_template("audit/timeline.html", story=story, shown=shown, kind_labels=_labels())


@bp.route("/retention")
@login_required
def retention_report() -> Any:
    """Instances past their retention period in the reader's scope (nothing is deleted)."""
    scope = audit_log.reader_scope(actor())
    units = set(scope.unit_ids) if scope.unit_ids is not None else None
    return render_template("audit/retention.html", report=retention.report(None, units))


def duration(seconds: int | None) -> str:
    """A duration for people: days, hours, minutes."""
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)s дн. %(h)s ч", d=days, h=hours)
    if hours:
        return _("%(h)s ч %(m)s мин", h=hours, m=minutes)
    if minutes:
        return _("%(m)s мин", m=minutes)
    return _("%(s)s с", s=seconds)


bp.add_app_template_filter(duration, "duration")
