"""Views of the ММА register: parse the query, call the register service, render."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...downloads import csv_download
from ...services import mma_register
from ...services.roles import ROLES
from ..common import actor, error_page, held_roles
from . import bp

PER_PAGE = 50


@bp.get("/mma")
@login_required
def mma() -> Any:
    """The register of one municipality; the municipality is chosen from those the user reads."""
    user = actor()
    municipalities = mma_register.readable_municipalities(user)
    if not municipalities:
        return error_page(
            403,
            _(
                "Муниципальную базу методистов видят сотрудники муниципалитета "
                "и регионального уровня."
            ),
        )
    slug = request.args.get("municipality", "")
    if not slug:
        if len(municipalities) == 1:
            return redirect(url_for("mma_register.mma", municipality=municipalities[0].slug))
        return render_template(
            "register/mma.html", municipalities=municipalities, result=None, pages=0
        )
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and len(page) <= 6 else 1
    result = mma_register.register_page(user, slug, number, PER_PAGE)
    pages = max(1, -(-result.total // result.per_page))
    return render_template(
        "register/mma.html", municipalities=municipalities, result=result, pages=pages
    )


@bp.get("/mma.csv")
@login_required
def mma_csv() -> Any:
    """The whole register of a municipality as CSV (the download is audited)."""
    unit, text = mma_register.register_csv(actor(), request.args.get("municipality", ""))
    return csv_download(text, f"ММА — {unit.name}.csv")


@bp.app_context_processor
def _register_link() -> dict[str, Any]:
    """Whether the navbar shows «Реестр ММА»: the user holds a role the register is open to."""

    def show() -> bool:
        return bool(held_roles().intersection(ROLES))

    return {"show_register_link": show}
