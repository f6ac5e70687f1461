"""ISO 8601 durations as used in task due dates (PnYnMnWnDTnHnMnS)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse a duration; years and months count as 365 and 30 days (calendar approximation)."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"Неверная длительность ISO 8601: {text!r}")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    days = parts.get("years", 0) * 365 + parts.get("months", 0) * 30 + parts.get("days", 0)
    return timedelta(
        weeks=parts.get("weeks", 0),
        days=days,
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
        seconds=parts.get("seconds", 0),
    )


def due_from(start: datetime, spec: str | None, data: dict[str, object]) -> datetime | None:
    """Due time for a task property value: a duration, or '=name' of a data key holding one."""
    if not spec:
        return None
    value: object = spec
    if spec.startswith("="):
        value = data.get(spec[1:])
    if not isinstance(value, str):
        return None
    return start + parse_duration(value.strip().strip('"'))
