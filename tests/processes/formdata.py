"""Random valid data for a form, from its JSON Schema (the subset the forms of this project use).

Supported: object (properties, required, if/then, allOf of if/then), array (items, minItems,
maxItems, uniqueItems, contains, allOf of contains), string (enum, const, minLength,
maxLength, format date/uri, the patterns below), integer, number, boolean, const, enum and
oneOf of consts. An unsupported pattern fails loudly rather than producing invalid data; the
result is always checked against the schema.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from random import Random
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

WORDS = [
    "методический",
    "план",
    "сопровождение",
    "педагог",
    "семинар",
    "результат",
    "совет",
    "анализ",
    "практика",
    "наставник",
    "диагностика",
    "программа",
]
DURATION = r"^P(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$"


def _text(rng: Random, low: int, high: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 5))]
    text = " ".join(words).capitalize()
    while len(text) < low:
        text += " " + rng.choice(WORDS)
    return text[:high].strip() or "А" * max(low, 1)


PATTERNS: dict[str, Any] = {
    r"\S": lambda rng, lo, hi: _text(rng, max(lo, 1), hi),
    # Durations of timers and due dates: whole days, so that a run never spins on zero timers.
    DURATION: lambda rng, lo, hi: f"P{rng.randint(1, 60)}D",
    r"^P[1-9][0-9]{0,2}D$": lambda rng, lo, hi: f"P{rng.randint(1, 90)}D",
    r"^\d{4}/\d{4}$": lambda rng, lo, hi: f"{(y := rng.randint(2024, 2030))}/{y + 1}",
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A schema with the constraints of extra added (extra wins; properties merged per key)."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties":
            props = dict(base.get("properties") or {})
            for name, sub in value.items():
                props[name] = _merge(props.get(name) or {}, sub)
            merged["properties"] = props
        else:
            merged[key] = value
    return merged


class FormData:
    """Generates random valid values for JSON Schemas with a seeded RNG.

    `first_bias` is the chance of taking the first option of an enum outright (the forms list
    the forward decision first: approve, confirmed, include, granted), so that random runs
    reach the end of long review chains in a reasonable number of steps.
    """

    def __init__(self, rng: Random, first_bias: float = 0.0) -> None:
        self.rng = rng
        self.first_bias = first_bias

    def _choice(self, options: list[Any]) -> Any:
        if self.rng.random() < self.first_bias:
            return copy.deepcopy(options[0])
        return copy.deepcopy(self.rng.choice(options))

    def form(self, schema: dict[str, Any], attempts: int = 30) -> dict[str, Any]:
        """A random object valid against the form's schema."""
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        for _ in range(attempts):
            value = self.value(schema)
            if validator.is_valid(value):
                return value  # type: ignore[no-any-return]
        errors = [e.message for e in validator.iter_errors(value)]
        raise AssertionError(f"no valid data for {schema.get('title')}: {errors}")

    def value(self, schema: dict[str, Any]) -> Any:
        """A random value for one (sub)schema."""
        rng = self.rng
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if "enum" in schema:
            return self._choice(list(schema["enum"]))
        consts = [o["const"] for o in schema.get("oneOf") or [] if "const" in o]
        if consts:
            return self._choice(consts)
        kind = schema.get("type")
        if kind == "object":
            return self._object(schema)
        if kind == "array":
            return self._array(schema)
        if kind == "string":
            return self._string(schema)
        if kind == "integer":
            low = int(schema.get("minimum", 0))
            return rng.randint(low, int(schema.get("maximum", low + 100)))
        if kind == "number":
            low = float(schema.get("minimum", 0))
            return round(rng.uniform(low, float(schema.get("maximum", low + 100))), 1)
        if kind == "boolean":
            return rng.random() < 0.5
        if not schema:
            return {}
        raise AssertionError(f"unsupported schema: {schema}")

    def _object(self, schema: dict[str, Any]) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        result: dict[str, Any] = {}
        for name, sub in props.items():
            if name not in required and self.rng.random() < 0.5:
                continue
            if "default" in sub and self.rng.random() < 0.3:
                result[name] = copy.deepcopy(sub["default"])
            else:
                result[name] = self.value(sub)
        conditionals = [schema] + list(schema.get("allOf") or [])
        for rule in conditionals:
            then = rule.get("then")
            if "if" not in rule or not then:
                continue
            if Draft202012Validator(rule["if"]).is_valid(result):
                for name, extra in (then.get("properties") or {}).items():
                    result[name] = self.value(_merge(props.get(name) or {}, extra))
                for name in then.get("required") or []:
                    result.setdefault(name, self.value(props.get(name) or {}))
        return result

    def _array(self, schema: dict[str, Any]) -> list[Any]:
        items: dict[str, Any] = schema.get("items") or {}
        low = int(schema.get("minItems", 0))
        high = min(int(schema.get("maxItems", low + 3)), low + 3)
        if schema.get("uniqueItems") and "enum" in items:
            high = min(high, len(items["enum"]))
        result: list[Any] = []
        for _ in range(self.rng.randint(low, high)):
            for _attempt in range(20):
                candidate = self.value(items)
                if not schema.get("uniqueItems") or candidate not in result:
                    result.append(candidate)
                    break
        needs = [schema["contains"]] if "contains" in schema else []
        needs += [rule["contains"] for rule in schema.get("allOf") or [] if "contains" in rule]
        for need in needs:
            if not any(Draft202012Validator(need).is_valid(item) for item in result):
                result.append(self.value(_merge(items, need)))
        return result

    def _string(self, schema: dict[str, Any]) -> str:
        rng = self.rng
        low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 60))
        fmt = schema.get("format")
        if fmt == "date":
            return (date(2025, 1, 1) + timedelta(days=rng.randint(0, 1500))).isoformat()
        if fmt == "uri":
            return f"https://example.ru/{rng.choice(['mma', 'mms', 'doc'])}/{rng.randint(1, 999)}"
        pattern = schema.get("pattern")
        if pattern is not None:
            if pattern not in PATTERNS:
                raise AssertionError(f"no generator for pattern {pattern!r}")
            return str(PATTERNS[pattern](rng, low, high))
        if low == 0 and rng.random() < 0.3:
            return ""
        return _text(rng, max(low, 1), min(high, 80))
