"""Exports of the monitoring dashboard: each table as CSV, all tables as one XLSX workbook."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from .monitoring import Dashboard
from .monitoring_facts import DIRECTIONS

OUTCOMES = {
    "signed": "подписано",
    "registered": "зарегистрировано",
    "approved": "утверждён",
}
DIRECTION_TITLES = {
    "management": "Направление 1",
    "professional_mastery": "Направление 2",
    "content_support": "Направление 3",
}


@dataclass
class Table:
    """One exported table: a sheet name, column headers and rows of plain values."""

    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


def _day(value: Any) -> str:
    return value.date().isoformat() if value is not None else ""


def tables(board: Dashboard) -> list[Table]:
    """The dashboard's figures as plain tables (the same numbers the page shows)."""
    muni_headers = [
        "Муниципалитет",
        "Соглашение",
        "Подписано с",
        "Рег. номер",
        "Комплекс мер утверждён",
        *[f"Мероприятий: {DIRECTION_TITLES[d]}" for d in DIRECTIONS],
        "Мероприятий всего",
        "Мероприятий с истёкшим сроком",
        "Членов ММА",
        "Школ членов ММА",
        "Школ",
        "Школ с утверждённым планом МО",
        "Планов МО утверждено",
        "Планов МО в работе",
        "Аттестация: в работе",
        "Аттестация: установлена",
        "Аттестация: отказ",
        "Просроченных задач",
    ]
    muni_rows = []
    for m in board.municipalities:
        agreement, roadmap = m.agreement, m.roadmap
        muni_rows.append(
            [
                m.name,
                OUTCOMES.get(agreement.outcome, agreement.outcome) if agreement else "нет",
                _day(agreement.since) if agreement else "",
                (agreement.detail or "") if agreement else "",
                _day(roadmap.approved_at) if roadmap else "нет",
                *[roadmap.measures.get(d, 0) if roadmap else 0 for d in DIRECTIONS],
                roadmap.total if roadmap else 0,
                roadmap.total_overdue if roadmap else 0,
                m.mma_members,
                m.mma_schools,
                len(m.schools),
                m.schools_with_plan,
                m.plans_approved,
                m.plans_open,
                m.attestation_open,
                m.attestation_granted,
                m.attestation_refused,
                m.overdue_tasks,
            ]
        )
    names = {m.id: m.name for m in board.municipalities}
    school_rows = [
        [
            names.get(s.municipality_id or 0, ""),
            s.name,
            s.plans_approved,
            s.plans_open,
            s.attestation_open,
            s.attestation_granted,
            s.attestation_refused,
            s.overdue_tasks,
            s.mma_members,
        ]
        for s in board.schools
    ]
    process_rows = [
        [
            p.name,
            p.completed,
            round(p.avg_days, 2) if p.avg_days is not None else "",
            *p.buckets,
        ]
        for p in board.processes
    ]
    step_rows = [
        [
            board.process_names.get(s.process_key, s.process_key),
            s.name,
            s.bpmn_id,
            s.completed,
            round(s.avg_days, 2) if s.avg_days is not None else "",
            "да" if s.bottleneck else "",
        ]
        for s in board.steps
    ]
    return [
        Table("municipalities", "Муниципалитеты", muni_headers, muni_rows),
        Table(
            "schools",
            "Школы",
            [
                "Муниципалитет",
                "Образовательная организация",
                "Планов МО утверждено",
                "Планов МО в работе",
                "Аттестация: в работе",
                "Аттестация: установлена",
                "Аттестация: отказ",
                "Просроченных задач",
                "Членов ММА",
            ],
            school_rows,
        ),
        Table(
            "processes",
            "Длительность процессов",
            [
                "Процесс",
                "Завершено",
                "Средняя длительность, дн.",
                "до 7 дн.",
                "7–14 дн.",
                "14–30 дн.",
                "30–60 дн.",
                "60–90 дн.",
                "90 дн. и более",
            ],
            process_rows,
        ),
        Table(
            "steps",
            "Длительность шагов",
            ["Процесс", "Шаг", "Код шага", "Выполнено", "Среднее время, дн.", "Узкое место"],
            step_rows,
        ),
    ]


def table_csv(board: Dashboard, name: str) -> tuple[Table, str]:
    """One table as CSV (semicolon-separated, for spreadsheets); KeyError for an unknown name."""
    table = {t.name: t for t in tables(board)}[name]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([f"Учебный год {board.year.label}"])
    writer.writerow(table.headers)
    writer.writerows(table.rows)
    return table, buffer.getvalue()


def workbook(board: Dashboard) -> bytes:
    """All tables as sheets of one XLSX workbook."""
    book = Workbook()
    book.remove(book.active)
    for table in tables(board):
        sheet = book.create_sheet(table.title[:31])
        sheet.append([f"Учебный год {board.year.label}"])
        sheet.append(table.headers)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(row)
        sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
