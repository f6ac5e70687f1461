"""DOCX documents generated from process data, in Russian, labelled by the forms' titles."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from ..models import ProcessInstance

Renderer = Callable[[DocxDocument, "DocumentContext"], None]
TEMPLATES: dict[str, Renderer] = {}
OWN_HEADER: set[str] = set()  # templates that lay out their own heading (legal documents)
_HIDDEN_PREFIXES = ("spiff__", "_")


class DocumentContext:
    """What a template sees: the instance, its unit, its data and the form field titles."""

    def __init__(self, instance: ProcessInstance, title: str, data: dict[str, Any]) -> None:
        self.instance = instance
        self.title = title
        self.data = data
        self.labels: dict[str, dict[str, Any]] = {}
        for schema in (instance.version.forms or {}).values():
            for name, prop in (schema.get("properties") or {}).items():
                if isinstance(prop, dict):
                    self.labels.setdefault(name, prop)

    def label(self, key: str) -> str:
        """The Russian title a form gives a field, else the key itself."""
        return str(self.labels.get(key, {}).get("title") or key)

    def display(self, key: str, value: Any) -> str:
        """A value as a person reads it (enum titles, yes/no, lists)."""
        prop = self.labels.get(key, {})
        for option in prop.get("oneOf") or []:
            if isinstance(option, dict) and option.get("const") == value:
                return str(option.get("title") or value)
        if isinstance(value, bool):
            return "да" if value else "нет"
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            return "; ".join(str(v) for v in value)
        return "" if value is None else str(value)


def template(name: str, own_header: bool = False) -> Callable[[Renderer], Renderer]:
    """Register a document template under the name BPMN service tasks use."""

    def register(func: Renderer) -> Renderer:
        TEMPLATES[name] = func
        if own_header:
            OWN_HEADER.add(name)
        return func

    return register


def render(name: str, ctx: DocumentContext) -> bytes:
    """Build the DOCX for template name (unknown names fall back to the generic layout)."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(12)
    document.core_properties.title = ctx.title
    document.core_properties.language = "ru-RU"
    if name not in OWN_HEADER:
        _header(document, ctx)
    TEMPLATES.get(name, _generic)(document, ctx)
    _footer(document, ctx)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _header(document: DocxDocument, ctx: DocumentContext) -> None:
    document.add_heading(ctx.title, level=1)
    unit = ctx.instance.org_unit
    parent = unit.parent.name if unit.parent else ""
    document.add_paragraph(f"{unit.name}" + (f" ({parent})" if parent else ""))
    document.add_paragraph(
        f"Процесс: {ctx.instance.version.name}, экземпляр № {ctx.instance.id}, "
        f"версия процесса {ctx.instance.version.version}."
    )


def _footer(document: DocxDocument, ctx: DocumentContext) -> None:
    document.add_paragraph(
        "Документ сформирован автоматически "
        f"{datetime.now(UTC).strftime('%d.%m.%Y %H:%M')} UTC. Подлинность подтверждается "
        "хэшем SHA-256, записанным в журнале аудита."
    )


def _table_of_rows(
    document: DocxDocument, ctx: DocumentContext, key: str, rows: list[dict[str, Any]]
) -> None:
    item_schema = (ctx.labels.get(key, {}).get("items") or {}).get("properties") or {}
    columns = list(item_schema) or sorted({k for row in rows for k in row})
    table = document.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, column in zip(table.rows[0].cells, columns, strict=True):
        cell.text = str((item_schema.get(column) or {}).get("title") or column)
    for row in rows:
        cells = table.add_row().cells
        for cell, column in zip(cells, columns, strict=True):
            value = row.get(column)
            cell.text = (
                "; ".join(map(str, value))
                if isinstance(value, list)
                else str("" if value is None else value)
            )


def write_fields(document: DocxDocument, ctx: DocumentContext, keys: list[str]) -> None:
    """Write the given data keys: scalars as 'label: value', lists of objects as tables."""
    for key in keys:
        if key not in ctx.data or key.startswith(_HIDDEN_PREFIXES):
            continue
        value = ctx.data[key]
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            document.add_heading(ctx.label(key), level=2)
            _table_of_rows(document, ctx, key, value)
        elif isinstance(value, dict):
            continue
        else:
            paragraph = document.add_paragraph()
            paragraph.add_run(f"{ctx.label(key)}: ").bold = True
            paragraph.add_run(ctx.display(key, value))


def _generic(document: DocxDocument, ctx: DocumentContext) -> None:
    keys = [k for k in ctx.labels if k in ctx.data and k != "review_history"]
    write_fields(document, ctx, keys)


# --- legal documents ---------------------------------------------------------------------------

REGION_AUTHORITY = "Комитет общего и профессионального образования Ленинградской области"
CNPPM_ORGANISATION = (
    "Государственное автономное образовательное учреждение дополнительного профессионального "
    "образования «Ленинградский областной институт развития образования» (ГАОУ ДПО «ЛОИРО»)"
)
BLANK_DATE = "«___» ____________ 20___ г."
SIGNATURE_LINE = "_______________ / _______________________ /"


def _centered(document: DocxDocument, text: str, bold: bool = False, size: int = 12) -> None:
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)


def _justified(document: DocxDocument, text: str) -> None:
    paragraph = document.add_paragraph(text)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY


def _section(document: DocxDocument, text: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(text).bold = True


def _text(ctx: DocumentContext, key: str, default: str = "") -> str:
    value = ctx.data.get(key)
    return str(value).strip() if isinstance(value, str | int) and str(value).strip() else default


def ru_date(value: Any) -> str:
    """An ISO date as ДД.ММ.ГГГГ (other values unchanged)."""
    try:
        return date.fromisoformat(str(value)).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


def _option_title(ctx: DocumentContext, key: str, item_key: str, value: Any) -> str:
    """The title of value in the oneOf of an array item field (e.g. a party or a direction)."""
    items = (ctx.labels.get(key, {}).get("items") or {}).get("properties") or {}
    for option in (items.get(item_key) or {}).get("oneOf") or []:
        if isinstance(option, dict) and option.get("const") == value:
            return str(option.get("title") or value)
    return "" if value is None else str(value)


def _grid(document: DocxDocument, header: list[str], rows: list[list[str]]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, title in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(title).bold = True
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = value


def agreement_parties(ctx: DocumentContext) -> dict[str, str]:
    """The three parties: the drafted names, else the regional defaults and the municipality."""
    unit = ctx.instance.org_unit
    return {
        "region": _text(ctx, "draft_region_authority", REGION_AUTHORITY),
        "municipality": _text(
            ctx,
            "draft_municipal_authority",
            "Орган местного самоуправления, осуществляющий управление в сфере образования, "
            f"— {unit.name}",
        ),
        "cnppm": _text(ctx, "draft_cnppm_organisation", CNPPM_ORGANISATION),
    }


@template("tripartite_agreement", own_header=True)
def tripartite_agreement(document: DocxDocument, ctx: DocumentContext) -> None:
    """Соглашение: parties, subject, joint measures, obligations, term, blank signatures."""
    parties = agreement_parties(ctx)
    signatory = _text(ctx, "draft_municipal_signatory", "_______________________")
    measures = [m for m in ctx.data.get("draft_joint_measures") or [] if isinstance(m, dict)]
    _centered(document, "СОГЛАШЕНИЕ", bold=True, size=14)
    _centered(document, ctx.title, bold=True)
    _centered(document, "Дата заключения: " + BLANK_DATE)
    _centered(document, "Регистрационный № __________ от " + BLANK_DATE)
    _justified(
        document,
        f"{parties['region']}, именуемый в дальнейшем «Региональный орган», "
        f"{parties['municipality']}, именуемый в дальнейшем «Муниципальный орган», от имени "
        f"которого действует {signatory}, и {parties['cnppm']}, на базе которого создан и "
        "функционирует центр "
        "непрерывного повышения профессионального мастерства педагогических работников "
        "(ЦНППМ), именуемое в дальнейшем «Организация», совместно именуемые «Стороны», "
        "заключили настоящее Соглашение о нижеследующем.",
    )
    _section(document, "1. Предмет Соглашения")
    _justified(document, "1.1. " + _text(ctx, "draft_subject", ctx.title))
    _section(document, "2. Совместные мероприятия")
    _justified(document, "2.1. Стороны совместно реализуют следующие мероприятия:")
    _grid(
        document,
        ["№ п/п", "Мероприятие", "Ответственная сторона", "Срок"],
        [
            [
                str(n),
                str(m.get("measure", "")),
                _option_title(ctx, "draft_joint_measures", "party", m.get("party")),
                str(m.get("deadline", "")),
            ]
            for n, m in enumerate(measures, start=1)
        ],
    )
    _section(document, "3. Обязательства Сторон")
    numbered = list(enumerate(measures, start=1))
    for clause, (party, name) in enumerate(
        [
            ("region", "Региональный орган"),
            ("municipality", "Муниципальный орган"),
            ("cnppm", "Организация"),
        ],
        start=1,
    ):
        own = [str(n) for n, m in numbered if m.get("party") in (party, "joint")]
        text = f"3.{clause}. {name} обеспечивает выполнение мероприятий раздела 2"
        if own:
            text += f" ({'пункт' if len(own) == 1 else 'пункты'} {', '.join(own)})."
        else:
            text += "."
        if party == "municipality" and _text(ctx, "draft_municipal_obligations"):
            text += " Кроме того, Муниципальный орган обеспечивает: "
            text += _text(ctx, "draft_municipal_obligations")
        _justified(document, text)
    _section(document, "4. Срок действия Соглашения")
    until = ctx.data.get("draft_valid_until")
    _justified(
        document,
        "4.1. Соглашение вступает в силу со дня его подписания всеми Сторонами и действует"
        + (f" до {ru_date(until)}." if until else " до исполнения Сторонами обязательств."),
    )
    _section(document, "5. Заключительные положения")
    _justified(
        document,
        "5.1. Соглашение составлено в форме электронного документа. Подпись каждой Стороны "
        "подтверждает контрольную сумму SHA-256 настоящего документа, записанную в журнале "
        "аудита системы; изменение текста после подписания делает подписи недействительными.",
    )
    _section(document, "6. Подписи Сторон")
    table = document.add_table(rows=4, cols=3)
    table.style = "Table Grid"
    titles = ["Региональный орган", "Муниципальный орган", "Организация"]
    for column, key in enumerate(["region", "municipality", "cnppm"]):
        table.cell(0, column).text = titles[column]
        table.cell(1, column).text = parties[key]
        table.cell(2, column).text = signatory + "\n" if key == "municipality" else ""
        table.cell(2, column).text += SIGNATURE_LINE
        table.cell(3, column).text = BLANK_DATE + "\nМ.П."


ROADMAP_COLUMNS = [
    "№ п/п",
    "Системообразующее мероприятие",
    "Мероприятие",
    "Ответственный субъект МС НМС",
    "Ответственный исполнитель (соисполнители)",
    "Срок",
    "Результат выполнения мероприятия",
]
DIRECTIONS = ["management", "professional_mastery", "content_support"]


@template("roadmap", own_header=True)
def roadmap(document: DocxDocument, ctx: DocumentContext) -> None:
    """Комплекс мер («дорожная карта»): approval block and one table per direction."""
    unit = ctx.instance.org_unit
    act_number = _text(ctx, "approval_act_number", "________")
    act_date = ctx.data.get("approval_act_date")
    approval = document.add_paragraph()
    approval.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    approval.add_run("УТВЕРЖДЁН").bold = True
    approval.add_run(
        "\nраспорядительным актом органа местного самоуправления, осуществляющего управление "
        f"в сфере образования ({unit.name}),\nот "
        + (ru_date(act_date) if act_date else BLANK_DATE)
        + f" № {act_number}"
    )
    _centered(document, ctx.title, bold=True, size=14)
    period_from, period_to = ctx.data.get("roadmap_period_from"), ctx.data.get("roadmap_period_to")
    if period_from and period_to:
        _centered(document, f"на {period_from}–{period_to} годы")
    _centered(document, unit.name)
    minutes, meeting = ctx.data.get("council_minutes_number"), ctx.data.get("council_meeting_date")
    if minutes or meeting:
        _justified(
            document,
            "Рассмотрено муниципальным методическим советом"
            + (f" {ru_date(meeting)}" if meeting else "")
            + (f", протокол № {minutes}" if minutes else "")
            + ".",
        )
    rows = [r for r in ctx.data.get("roadmap_rows") or [] if isinstance(r, dict)]
    for number, direction in enumerate(DIRECTIONS, start=1):
        document.add_heading(_option_title(ctx, "roadmap_rows", "direction", direction), level=2)
        chosen = sorted(
            (r for r in rows if r.get("direction") == direction),
            key=lambda r: str(r.get("system_measure", "")),
        )
        counters: dict[str, int] = {}
        table_rows = []
        for row in chosen:
            measure = str(row.get("system_measure", f"{number}"))
            counters[measure] = counters.get(measure, 0) + 1
            table_rows.append(
                [
                    f"{measure}.{counters[measure]}",
                    _option_title(ctx, "roadmap_rows", "system_measure", row.get("system_measure")),
                    str(row.get("measure", "")),
                    str(row.get("responsible", "")),
                    str(row.get("executors", "")),
                    ru_date(row.get("deadline", "")),
                    str(row.get("expected_result", "")),
                ]
            )
        if table_rows:
            _grid(document, ROADMAP_COLUMNS, table_rows)
        else:
            document.add_paragraph("Мероприятия по направлению не предусмотрены.")
