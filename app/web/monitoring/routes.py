"""Views of «Мониторинг»: parse the period and unit, call the monitoring service, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from ...downloads import csv_download, download
from ...services import monitoring, monitoring_drill, monitoring_export
from ...services.errors import NotFound, ValidationFailed
from ...services.monitoring_cycles import BUCKETS, group_steps
from ...services.monitoring_facts import DIRECTIONS, SchoolYear
from ..common import actor, held_roles
from . import bp, charts

DIRECTION_LABELS = {
    "management": _l("Управление системой НМС"),
    "professional_mastery": _l("Повышение профессионального мастерства"),
    "content_support": _l("Содержательно-методическое обеспечение"),
}
SCHOOL_STATUS = {
    "approved": ("green", _l("план МО утверждён")),
    "in_progress": ("amber", _l("план МО в работе")),
    "overdue": ("red", _l("есть просроченные задачи")),
    "none": ("grey", _l("плана МО нет")),
}
OUTCOME_LABELS = {
    "signed": _l("подписано"),
    "registered": _l("зарегистрировано"),
    "approved": _l("утверждено"),
    "granted": _l("категория установлена"),
    "refused": _l("отказ"),
    "included": _l("включён в ММА"),
    "rejected": _l("отклонён"),
    "ineligible": _l("не соответствует критериям"),
    "not_nominated": _l("выдвижение не подтверждено"),
}


FIGURE_TITLES = {
    "agreement": _l("Трёхсторонние соглашения"),
    "agreements_open": _l("Соглашения в работе"),
    "roadmap": _l("Комплексы мер (дорожные карты)"),
    "roadmaps_open": _l("Комплексы мер в работе"),
    "mma_included": _l("Отборы в ММА с включением"),
    "mma_open": _l("Отборы в ММА в работе"),
    "plans_approved": _l("Утверждённые планы МО"),
    "plans_open": _l("Планы МО в работе"),
    "attestation_open": _l("Сопровождение аттестации в работе"),
    "attestation_granted": _l("Аттестация: категория установлена"),
    "attestation_refused": _l("Аттестация: отказ"),
    "overdue": _l("Экземпляры с просроченными задачами"),
    "completed": _l("Завершённые за учебный год"),
    "step": _l("Экземпляры, где шаг выполнен за учебный год"),
}


def _int(name: str) -> int | None:
    value = (request.args.get(name) or "").strip()
    return int(value) if value.isdigit() and len(value) <= 9 else None


def _municipality() -> int | None:
    """The municipality of the query: its id (the page's links) or its slug (typed by hand)."""
    value = (request.args.get("municipality") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return _int("municipality")
    return monitoring.municipality_by_slug(value[:100])


def _year() -> SchoolYear | None:
    text = request.args.get("year")
    if not text:
        return None
    year = SchoolYear.parse(text)
    if year is None:
        message = _("Учебный год указывается как ГГГГ/ГГГГ, например 2025/2026.")
        raise ValidationFailed(message, {"year": [message]})
    return year


def _bucket_labels() -> list[str]:
    labels, lower = [], 0
    for upper in BUCKETS:
        labels.append(_("%(a)s–%(b)s дн.", a=lower, b=upper))
        lower = upper
    labels.append(_("%(a)s+ дн.", a=lower))
    return labels


class _Links:
    """Drill-down addresses of one page (formatted by hand: the school grid needs 1,500)."""

    def __init__(self, year: SchoolYear) -> None:
        self.prefix = f"{url_for('monitoring.drill')}?year={year.label}&figure="

    def __call__(self, figure: str, **args: Any) -> str:
        query = self.prefix + figure
        for key, value in args.items():
            if value is not None:
                query += f"&{key}={quote(str(value), safe='')}"
        return query


def _charts(board: monitoring.Dashboard, drill: _Links) -> dict[str, Any]:
    plans = charts.stacked_bars(
        [
            (
                m.name,
                [
                    (
                        m.schools_with_plan,
                        drill("plans_approved", municipality=m.id),
                        _("%(n)s школ с утверждённым планом", n=m.schools_with_plan),
                    ),
                    (
                        len(m.schools) - m.schools_with_plan,
                        url_for(
                            "monitoring.index",
                            year=board.year.label,
                            municipality=m.id,
                            _anchor="grid",
                        ),
                        _(
                            "%(n)s школ без утверждённого плана",
                            n=len(m.schools) - m.schools_with_plan,
                        ),
                    ),
                ],
            )
            for m in board.municipalities
        ],
        [("green", _l("есть утверждённый план МО")), ("grey", _l("нет утверждённого плана"))],
    )
    attestation = charts.stacked_bars(
        [
            (
                m.name,
                [
                    (
                        m.attestation_granted,
                        drill("attestation_granted", municipality=m.id),
                        _("установлена: %(n)s", n=m.attestation_granted),
                    ),
                    (
                        m.attestation_refused,
                        drill("attestation_refused", municipality=m.id),
                        _("отказ: %(n)s", n=m.attestation_refused),
                    ),
                    (
                        m.attestation_open,
                        drill("attestation_open", municipality=m.id),
                        _("в работе: %(n)s", n=m.attestation_open),
                    ),
                ],
            )
            for m in board.municipalities
        ],
        [
            ("green", _l("категория установлена")),
            ("red", _l("отказ")),
            ("amber", _l("в работе")),
        ],
    )
    overdue = charts.stacked_bars(
        [
            (
                m.name,
                [
                    (
                        m.overdue_tasks,
                        drill("overdue", municipality=m.id),
                        _("просрочено задач: %(n)s", n=m.overdue_tasks),
                    ),
                ],
            )
            for m in board.municipalities
        ],
        [("red", _l("просроченные задачи"))],
    )
    status_text = {key: str(text) for key, (_colour, text) in SCHOOL_STATUS.items()}
    figure_of = {"overdue": "overdue", "approved": "plans_approved"}
    grid = charts.school_grid(
        [
            (
                m.name,
                [
                    (
                        SCHOOL_STATUS[s.status][0],
                        drill(
                            figure_of.get(s.status, "plans_open"),
                            school=s.id,
                        ),
                        f"{s.name}: {status_text[s.status]}",
                    )
                    for s in m.schools
                ],
            )
            for m in board.municipalities
            if m.schools
        ]
    )
    labels = _bucket_labels()
    histograms = [
        (
            p,
            charts.histogram(
                p.buckets,
                labels,
                [
                    drill("completed", process=p.key, bucket=i, municipality=board.selected)
                    for i in range(len(p.buckets))
                ],
            ),
        )
        for p in board.processes
    ]
    return {
        "plans_chart": plans,
        "attestation_chart": attestation,
        "overdue_chart": overdue,
        "grid": grid,
        "histograms": histograms,
    }


@bp.route("/")
@login_required
def index() -> Any:
    """The dashboard of the user's scope for a school year, optionally one municipality."""
    user = actor()
    year = _year()
    board = monitoring.dashboard(user, year, _municipality())
    links = _Links(board.year)
    return render_template(
        "monitoring/index.html",
        board=board,
        municipalities=board.choices,
        steps=group_steps(board.steps),
        directions=DIRECTIONS,
        direction_labels=DIRECTION_LABELS,
        school_status=SCHOOL_STATUS,
        outcome_labels=OUTCOME_LABELS,
        drill=links,
        **_charts(board, links),
    )


@bp.route("/drill")
@login_required
def drill() -> Any:
    """The instances behind one number of the dashboard, each linked to its page."""
    result = monitoring_drill.drill(
        actor(),
        request.args.get("figure", ""),
        _year(),
        municipality_id=_municipality(),
        school_id=_int("school"),
        process_key=request.args.get("process") or None,
        step=request.args.get("step") or None,
        bucket=_int("bucket"),
    )
    return render_template(
        "monitoring/drill.html",
        result=result,
        title=FIGURE_TITLES[result.figure],
        outcome_labels=OUTCOME_LABELS,
        names=monitoring.process_names(),
        back=url_for("monitoring.index", year=result.year.label, municipality=_municipality()),
    )


@bp.route("/export.csv")
@login_required
def export_csv() -> Any:
    """One table of the dashboard as CSV (UTF-8 with BOM, semicolons)."""
    board = monitoring.dashboard(actor(), _year(), _municipality())
    name = request.args.get("table", "municipalities")
    try:
        table, text = monitoring_export.table_csv(board, name)
    except KeyError as exc:
        raise NotFound(_("Нет такой таблицы.")) from exc
    filename = f"Мониторинг — {table.title} — {board.year.label.replace('/', '-')}.csv"
    return csv_download(text, filename)


@bp.route("/export.xlsx")
@login_required
def export_xlsx() -> Any:
    """All tables of the dashboard as one XLSX workbook."""
    board = monitoring.dashboard(actor(), _year(), _municipality())
    return download(
        monitoring_export.workbook(board),
        f"Мониторинг — {board.year.label.replace('/', '-')}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@bp.app_context_processor
def _monitoring_link() -> dict[str, Any]:
    """Whether the navbar shows «Мониторинг»: the user holds one of the five roles."""

    def show() -> bool:
        return bool(held_roles().intersection(monitoring.DASHBOARD_ROLES))

    return {"show_monitoring_link": show}
