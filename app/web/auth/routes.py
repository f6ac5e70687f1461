"""Views of the auth blueprint: parse the form, call the auth service, redirect."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ...services import auth as auth_service
from ...services.errors import AuthenticationFailed, DirectoryUnavailable
from ..common import WebUser, actor, safe_next
from . import bp


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; on success go where the user was heading."""
    target = safe_next(request.values.get("next"), url_for("inbox.index"))
    if current_user.is_authenticated:
        return redirect(target)
    username = ""
    error = None
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:150]
        password = request.form.get("password", "")
        try:
            user = auth_service.login(username, password)
        except DirectoryUnavailable as exc:  # the directory is down: say so, not "wrong password"
            error, status = exc.message, 503
        except auth_service.LoginLocked as exc:
            error = _(
                "Слишком много неудачных попыток входа. Вход под этим именем временно "
                "заблокирован, повторите через %(minutes)s мин.",
                minutes=exc.minutes,
            )
            status = 429
        except AuthenticationFailed:
            error = _("Неверное имя пользователя или пароль.")
            status = 401
        else:
            lang = session.get("lang")
            session.clear()  # a fresh session for the new login
            if lang:
                session["lang"] = lang
            login_user(WebUser(user))
            return redirect(target)
    return render_template("auth/login.html", username=username, error=error, next=target), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    """End the session (a POST with the CSRF token, never a link)."""
    auth_service.logout(actor())
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("Вы вышли из системы."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language() -> Any:
    """Remember the chosen UI language in the session."""
    lang = request.form.get("lang", "")
    if lang in current_app.config.get("LANGUAGES", ("ru",)):
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next"), url_for("inbox.index")))
