"""JSON Schema forms: defaults, validation with Russian per-field messages, field filtering."""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from .errors import ValidationFailed

_FORMATS = FormatChecker()


def check_schema(schema: Any) -> str | None:
    """None if schema is a valid JSON Schema (2020-12), else the reason."""
    if not isinstance(schema, dict):
        return "Форма должна быть объектом JSON Schema."
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"Некорректная JSON Schema: {exc.message}"
    from .user_fields import annotated, check_annotation  # user_fields needs the database

    for name, spec in annotated(schema).items():
        problem = check_annotation(spec)
        if problem:
            return f"Поле «{name}»: {problem}"
    return None


def with_defaults(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Data with the top-level defaults of the schema filled in where absent."""
    result = dict(data)
    for name, prop in (schema.get("properties") or {}).items():
        if name not in result and isinstance(prop, dict) and "default" in prop:
            result[name] = copy.deepcopy(prop["default"])
    return result


def _schema_type(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _has_choices(prop: dict[str, Any]) -> bool:
    """An enumeration: `enum`, or oneOf/anyOf of consts."""
    for key in ("oneOf", "anyOf"):
        alternatives = prop.get(key)
        if isinstance(alternatives, list) and all(
            isinstance(a, dict) and "const" in a for a in alternatives
        ):
            return True
    return isinstance(prop.get("enum"), list)


def is_attachment_list(name: str, prop: dict[str, Any]) -> bool:
    """A list of attachment ids: an array of plain integers whose name ends in `attachments`."""
    items = prop.get("items")
    return (
        _schema_type(prop) == "array"
        and name.endswith("attachments")
        and isinstance(items, dict)
        and _schema_type(items) == "integer"
        and not _has_choices(items)
    )


def attachment_fields(schema: dict[str, Any] | None) -> list[str]:
    """Top-level fields of a form that hold attachment ids."""
    props = (schema or {}).get("properties") or {}
    return [n for n, p in props.items() if isinstance(p, dict) and is_attachment_list(n, p)]


def declared_fields(schema: dict[str, Any]) -> set[str]:
    """Top-level fields a form declares: only these may enter the process data."""
    return set((schema.get("properties") or {}).keys())


def _field_of(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = _missing_name(error)
        path.append(missing)
    return ".".join(path) or "_schema"


def _missing_name(error: ValidationError) -> str:
    message = error.message
    if message.startswith("'") and "'" in message[1:]:
        return message[1 : message.index("'", 1)]
    return "_schema"


def _title(schema: dict[str, Any], error: ValidationError) -> str | None:
    node: Any = schema
    path = list(error.absolute_path)
    if error.validator == "required":
        path.append(_missing_name(error))
    for part in path:
        if not isinstance(node, dict):
            return None
        if isinstance(part, int):
            node = node.get("items")
        else:
            node = (node.get("properties") or {}).get(part)
    if isinstance(node, dict):
        return node.get("title")
    return None


_TYPE_NAMES = {
    "string": "строка",
    "integer": "целое число",
    "number": "число",
    "boolean": "да/нет",
    "array": "список",
    "object": "объект",
    "null": "пусто",
}


def _message(error: ValidationError) -> str:
    v = error.validator
    val: Any = error.validator_value
    if v == "required":
        return "Обязательное поле."
    if v == "type":
        expected = val if isinstance(val, str) else " или ".join(val)
        return f"Неверный тип значения: ожидается {_TYPE_NAMES.get(expected, expected)}."
    if v == "minItems":
        count = len(error.instance) if isinstance(error.instance, list) else 0
        return f"Нужно не менее {val} элементов (сейчас {count})."
    if v == "maxItems":
        return f"Допускается не более {val} элементов."
    if v == "minLength":
        return "Поле не может быть пустым." if val == 1 else f"Не менее {val} символов."
    if v == "maxLength":
        return f"Не более {val} символов."
    if v == "minimum":
        return f"Значение должно быть не меньше {val}."
    if v == "maximum":
        return f"Значение должно быть не больше {val}."
    if v == "enum":
        return "Значение не из списка допустимых: " + ", ".join(map(str, val)) + "."
    if v == "const":
        return f"Требуется значение {val!r}."
    if v == "pattern":
        return "Значение не соответствует требуемому формату."
    if v == "format":
        return {
            "date": "Ожидается дата в формате ГГГГ-ММ-ДД.",
            "email": "Ожидается адрес электронной почты.",
        }.get(str(val), f"Неверный формат ({val}).")
    if v == "additionalProperties":
        return "Поле не предусмотрено формой."
    return f"Недопустимое значение ({error.message})."


def validate(schema: dict[str, Any], data: Any) -> None:
    """Raise ValidationFailed naming every invalid field with a Russian message."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            "Данные формы должны быть объектом JSON.", {"data": ["Ожидается объект."]}
        )
    validator = Draft202012Validator(schema, format_checker=_FORMATS)
    errors: dict[str, list[str]] = {}
    found = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in found:
        if error.validator == "oneOf" and isinstance(error.schema, dict) and "enum" in error.schema:
            continue  # the enum error on the same field already says it, in Russian
        field = _field_of(error)
        message = _message(error)
        title = _title(schema, error)
        if title and field != "_schema":
            message = f"{title}: {message}"
        errors.setdefault(field, [])
        if message not in errors[field]:
            errors[field].append(message)
    if errors:
        raise ValidationFailed("Форма заполнена с ошибками.", errors)
