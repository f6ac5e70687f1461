"""DOCX documents generated from process data, in Russian, labelled by the forms' titles."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.shared import Pt

from ..models import ProcessInstance

Renderer = Callable[[DocxDocument, "DocumentContext"], None]
TEMPLATES: dict[str, Renderer] = {}
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


def template(name: str) -> Callable[[Renderer], Renderer]:
    """Register a document template under the name BPMN service tasks use."""

    def register(func: Renderer) -> Renderer:
        TEMPLATES[name] = func
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
