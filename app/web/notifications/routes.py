"""Views of notifications: parse the request, call the notification services, render."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...services import notifications
from ...services.errors import ValidationFailed
from ..common import actor, safe_next
from . import bp

KINDS = {
    "task_offered": _l("Новая задача"),
    "task_due_soon": _l("Приближается срок"),
    "task_due": _l("Срок истёк"),
    "process_message": _l("Сообщение процесса"),
}


@bp.app_context_processor
def _navbar() -> dict[str, Any]:
    """`navbar_state()` for base.html: one query per page, and only when the page calls it."""

    def navbar_state() -> notifications.NavbarState:
        if not current_user.is_authenticated:
            return notifications.NavbarState(0, False)
        if "navbar_state" not in g:
            g.navbar_state = notifications.navbar_state(actor())
        return cast(notifications.NavbarState, g.navbar_state)

    return {"navbar_state": navbar_state}


def _page_number() -> int:
    value = request.args.get("page", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1


@bp.route("/notifications")
@login_required
def index() -> Any:
    """The user's notifications, newest first; `?unread=1` shows only the unread ones."""
    unread_only = request.args.get("unread") == "1"
    page = notifications.list_notifications(
        actor(),
        unread_only=unread_only,
        page=_page_number(),
        per_page=current_app.config.get("NOTIFICATIONS_PER_PAGE", 25),
    )
    pages = max((page.total + page.per_page - 1) // page.per_page, 1)
    return render_template(
        "notifications/list.html", page=page, pages=pages, unread_only=unread_only, kinds=KINDS
    )


def _back() -> Any:
    return redirect(safe_next(request.form.get("next"), url_for("notices.index")), 303)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int) -> Any:
    """Mark one notification read (another user's is 404)."""
    notifications.mark_read(actor(), notification_id)
    return _back()


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def mark_all_read() -> Any:
    """Mark every unread notification of the user read."""
    marked = notifications.mark_all_read(actor())
    flash(_("Отмечено прочитанными: %(count)s.", count=marked), "success")
    return _back()


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> Any:
    """How the user is told: e-mail or in-app only, at once or in a daily digest."""
    if request.method == "GET":
        return render_template(
            "notifications/settings.html", prefs=notifications.preferences(actor()), errors={}
        )
    channel = request.form.get("channel", "")
    daily_digest = request.form.get("daily_digest") == "1"
    try:
        notifications.update_preferences(actor(), channel, daily_digest)
    except ValidationFailed as exc:
        prefs = {
            **notifications.preferences(actor()),
            "channel": channel,
            "daily_digest": daily_digest,
        }
        return render_template(
            "notifications/settings.html", prefs=prefs, errors=exc.errors, message=exc.message
        ), 422
    flash(_("Настройки уведомлений сохранены."), "success")
    return redirect(url_for("notices.settings"), 303)
