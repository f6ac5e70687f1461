"""JSON Schema forms on HTML: the field tree a template renders, and a posted form back to JSON.

Field names follow the data path with brackets (``members[0][full_name]``); validation errors
from app.services.forms use dotted paths (``members.0.full_name``) and are attached to the
field of the same path. Invalid numbers are kept as the text typed, so the schema validation
reports them and the page shows what the user entered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.datastructures import MultiDict

from ..services import forms

INDEX = "__INDEX__"
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
_FORMATS = FormatChecker()
_TEXTAREA_FROM = 500  # strings allowed to be this long or longer get a textarea


@dataclass
class Field:
    """One input, group or repeating list of the rendered form."""

    kind: str
    path: tuple[str, ...]
    title: str
    description: str = ""
    required: bool = False
    value: Any = None
    errors: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    template: Field | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The HTML name: the data path in brackets."""
        return self.path[0] + "".join(f"[{p}]" for p in self.path[1:])

    @property
    def id(self) -> str:
        """A stable HTML id from the path."""
        return "f-" + "-".join(self.path)

    @property
    def dotted(self) -> str:
        """The path as validation errors name it."""
        return ".".join(self.path)

    @property
    def text(self) -> str:
        """The value as an input shows it."""
        if self.value is None:
            return ""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)


def _type(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def options(prop: dict[str, Any]) -> list[tuple[Any, str]]:
    """Choices of an enum field: (value, title), titles from oneOf/anyOf consts if given."""
    for key in ("oneOf", "anyOf"):
        alternatives = prop.get(key)
        if isinstance(alternatives, list) and all(
            isinstance(a, dict) and "const" in a for a in alternatives
        ):
            return [(a["const"], str(a.get("title", a["const"]))) for a in alternatives]
    if isinstance(prop.get("enum"), list):
        return [(v, str(v)) for v in prop["enum"]]
    return []


def _scalar_kind(prop: dict[str, Any]) -> str:
    if options(prop):
        return "select"
    kind = _type(prop)
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return kind
    fmt = prop.get("format")
    if fmt == "date":
        return "date"
    if fmt == "email":
        return "email"
    if fmt == "textarea" or int(prop.get("maxLength") or 0) >= _TEXTAREA_FROM:
        return "textarea"
    return "text"


def _attrs(prop: dict[str, Any], kind: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if kind in ("text", "textarea", "email") and prop.get("maxLength"):
        attrs["maxlength"] = prop["maxLength"]
    if kind in ("integer", "number"):
        for key in ("minimum", "maximum"):
            if key in prop:
                attrs[key[:3]] = prop[key]
        attrs["step"] = "1" if kind == "integer" else "any"
    if isinstance(prop.get("examples"), list) and prop["examples"]:
        attrs["placeholder"] = str(prop["examples"][0])
    return attrs


UPLOAD_SUFFIX = "__upload"


# Lists of attachment ids are shown as the instance's files with an upload (the rule is the
# services' own: tasks.complete checks the ids against the instance).
is_attachment_list = forms.is_attachment_list
attachment_fields = forms.attachment_fields


class _Errors:
    """Validation errors by dotted path; remembers which ones a field has shown.

    It also carries the instance's attachments (id, file name) that attachment fields offer.
    """

    def __init__(
        self, errors: dict[str, list[str]], files: list[tuple[int, str]] | None = None
    ) -> None:
        self.by_path = errors
        self.shown: set[str] = set()
        self.files = files or []

    def take(self, path: tuple[str, ...], title: str) -> list[str]:
        key = ".".join(path)
        found = self.by_path.get(key, [])
        if found:
            self.shown.add(key)
        prefix = f"{title}: "
        return [m[len(prefix) :] if title and m.startswith(prefix) else m for m in found]


def _field(
    prop: dict[str, Any], path: tuple[str, ...], value: Any, required: bool, errors: _Errors
) -> Field:
    title = str(prop.get("title") or path[-1])
    common: dict[str, Any] = {
        "path": path,
        "title": title,
        "description": str(prop.get("description") or ""),
        "required": required,
        "errors": errors.take(path, title),
    }
    kind = _type(prop)
    if kind == "object" and isinstance(prop.get("properties"), dict):
        values = value if isinstance(value, dict) else {}
        return Field(kind="group", children=_fields(prop, path, values, errors), **common)
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        assert isinstance(items, dict)
        listed = value if isinstance(value, list) else []
        if len(path) == 1 and is_attachment_list(path[0], prop):
            return Field(
                kind="attachments",
                value=sorted({str(v) for v in listed}),
                options=[(str(i), n) for i, n in errors.files],
                **common,
            )
        if options(items):
            chosen = {str(v) for v in listed}
            return Field(
                kind="checkboxes",
                value=sorted(chosen),
                options=[(str(v), t) for v, t in options(items)],
                **common,
            )
        item_kind = "row" if _type(items) == "object" else "item"
        if value is None:  # a fresh form: offer as many empty rows as the schema requires
            listed = [None] * min(int(prop.get("minItems") or 0), 10)
        children = [
            _item(items, (*path, str(i)), v, errors, item_kind) for i, v in enumerate(listed)
        ]
        blank = _item(items, (*path, INDEX), None, _Errors({}), item_kind)
        return Field(
            kind="rows",
            children=children,
            template=blank,
            attrs={"min": prop.get("minItems", 0), "max": prop.get("maxItems")},
            **common,
        )
    scalar = _scalar_kind(prop)
    if value is None and "default" in prop:
        value = prop["default"]
    return Field(
        kind=scalar,
        value=value,
        options=[(str(v), t) for v, t in options(prop)],
        attrs=_attrs(prop, scalar),
        **common,
    )


def _item(
    items: dict[str, Any], path: tuple[str, ...], value: Any, errors: _Errors, kind: str
) -> Field:
    if kind == "row":
        values = value if isinstance(value, dict) else {}
        return Field(
            kind="row",
            path=path,
            title=str(items.get("title") or ""),
            errors=errors.take(path, ""),
            children=_fields(items, path, values, errors),
        )
    return _field(items, path, value, True, errors)


def _fields(
    schema: dict[str, Any], prefix: tuple[str, ...], values: dict[str, Any], errors: _Errors
) -> list[Field]:
    required = set(schema.get("required") or [])
    result = []
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            result.append(_field(prop, (*prefix, name), values.get(name), name in required, errors))
    return result


@dataclass
class RenderedForm:
    """The fields of a form and the errors no field showed (for the summary on top)."""

    fields: list[Field]
    all_errors: list[tuple[str, str, str]]
    other_errors: list[str]


def build(
    schema: dict[str, Any] | None,
    values: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    files: list[tuple[int, str]] | None = None,
) -> RenderedForm:
    """The field tree of a form with the given values, validation errors and offered files."""
    tracker = _Errors(errors or {}, files)
    fields = _fields(schema or {}, (), values, tracker)
    ids = {f.dotted: f for f in _walk(fields)}
    summary = []
    other = []
    for key, messages in (errors or {}).items():
        target = ids.get(key)
        for message in messages:
            if target is not None:
                summary.append((key, "f-" + key.replace(".", "-"), message))
            else:
                other.append(message)
    return RenderedForm(fields=fields, all_errors=summary, other_errors=other)


def _walk(fields: list[Field]) -> list[Field]:
    result = []
    for f in fields:
        result.append(f)
        result.extend(_walk(f.children))
    return result


# ---------------------------------------------------------------- posted form → JSON data


def _unflatten(form: MultiDict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key in form:
        match = _KEY.match(key)
        if match is None:
            continue
        parts = [match.group(1), *_PART.findall(match.group(2))]
        node: Any = tree
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {}
            node = nxt
        if isinstance(node, dict):
            node[parts[-1]] = form.getlist(key)
    return tree


_MISSING = object()


def _empty_allowed(prop: dict[str, Any]) -> bool:
    try:
        return bool(Draft202012Validator(prop, format_checker=_FORMATS).is_valid(""))
    except Exception:  # noqa: BLE001 — an unusual schema simply gets no empty string
        return False


def _scalar(prop: dict[str, Any], raw: Any) -> Any:
    kind = _type(prop)
    values = raw if isinstance(raw, list) else [raw]
    if kind == "boolean":
        return any(str(v).lower() in ("on", "true", "1", "yes") for v in values)
    text = str(values[-1]) if values and values[-1] is not None else ""
    text = text.replace("\r\n", "\n").strip()
    if text == "":
        return "" if kind in (None, "string") and _empty_allowed(prop) else _MISSING
    choices = options(prop)
    if choices:
        by_text = {str(v): v for v, _t in choices}
        return by_text.get(text, text)
    if kind == "integer":
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else text
    if kind == "number":
        normal = text.replace(",", ".").replace(" ", "")
        if re.fullmatch(r"[+-]?\d+", normal):
            return int(normal)
        try:
            return float(normal)
        except ValueError:
            return text
    return text


def _indexed(raw: Any) -> list[Any]:
    if isinstance(raw, dict):
        keys = sorted((k for k in raw if k.isdigit()), key=int)
        return [raw[k] for k in keys]
    if isinstance(raw, list):
        return list(raw)
    return []


def _value(prop: dict[str, Any], raw: Any) -> Any:
    kind = _type(prop)
    if kind == "object" and isinstance(prop.get("properties"), dict):
        return _object(prop, raw if isinstance(raw, dict) else {})
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        assert isinstance(items, dict)
        if options(items):
            chosen = raw if isinstance(raw, list) else []
            return [_scalar(items, v) for v in chosen if str(v) != ""]
        result = []
        for entry in _indexed(raw):
            value = _value(items, entry)
            if value is _MISSING or (isinstance(value, dict) and _blank(value)):
                continue
            result.append(value)
        return result
    if raw is None:
        return False if kind == "boolean" else _MISSING
    return _scalar(prop, raw)


def _blank(obj: dict[str, Any]) -> bool:
    """A repeating row left empty: nothing but unchecked boxes and empty lists."""
    return all(
        v in (False, "", [], None) or (isinstance(v, dict) and _blank(v)) for v in obj.values()
    )


def _object(schema: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        value = _value(prop, raw.get(name))
        if value is not _MISSING:
            result[name] = value
    return result


def parse(schema: dict[str, Any] | None, form: MultiDict[str, str]) -> dict[str, Any]:
    """The JSON data of a posted form: typed by the schema, empty rows and inputs dropped."""
    if not schema:
        return {}
    return _object(schema, _unflatten(form))


# ---------------------------------------------------------------- read-only display


@dataclass(frozen=True)
class Shown:
    """A submitted value with its title, ready for a read-only view."""

    title: str
    kind: str  # text, list, table
    text: str = ""
    items: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _text(prop: dict[str, Any], value: Any) -> str:
    titles = {str(v): t for v, t in options(prop)}
    if isinstance(value, bool):
        return "✓" if value else "—"
    if value is None:
        return ""
    return titles.get(str(value), str(value))


def describe(schema: dict[str, Any] | None, data: dict[str, Any]) -> list[Shown]:
    """Titles and readable values of data submitted through a form, in the form's order."""
    props = (schema or {}).get("properties") or {}
    result = []
    names = list(props) + [k for k in data if k not in props and schema is None]
    for name in names:
        if name not in data or data[name] in ("", None, []):
            continue
        prop: dict[str, Any] = props[name] if isinstance(props.get(name), dict) else {}
        value = data[name]
        title = str(prop.get("title") or name)
        items: dict[str, Any] = prop["items"] if isinstance(prop.get("items"), dict) else {}
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            sub = items.get("properties") or {}
            keys = list(sub) or sorted({k for v in value for k in v})
            result.append(
                Shown(
                    title=title,
                    kind="table",
                    columns=[str((sub.get(k) or {}).get("title") or k) for k in keys],
                    rows=[[_text(sub.get(k) or {}, row.get(k)) for k in keys] for row in value],
                )
            )
        elif isinstance(value, list):
            result.append(Shown(title=title, kind="list", items=[_text(items, v) for v in value]))
        elif isinstance(value, dict):
            inner = describe(prop if prop.get("properties") else None, value)
            result.append(
                Shown(title=title, kind="list", items=[f"{s.title}: {s.text}" for s in inner])
            )
        else:
            result.append(Shown(title=title, kind="text", text=_text(prop, value)))
    return result
