"""Views of the overdue list: parse the request, call the overdue service, render."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from flask_login import login_required

from ...services import overdue
from ..common import actor
from . import bp


def _int(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.route("/overdue")
@login_required
def index() -> Any:
    """Overdue open tasks in the supervisor's zone, counted by municipality and by process."""
    municipality_id = _int("municipality")
    process_key = request.args.get("process") or None
    view = overdue.overdue_tasks(
        actor(),
        page=_int("page") or 1,
        per_page=current_app.config.get("OVERDUE_PER_PAGE", 25),
        municipality_id=municipality_id,
        process_key=process_key,
    )
    pages = max((view.total + view.per_page - 1) // view.per_page, 1)
    return render_template(
        "deadlines/overdue.html",
        view=view,
        pages=pages,
        municipality_id=municipality_id,
        process_key=process_key,
        scope_total=sum(g["count"] for g in view.by_process),
    )
