"""Working days of the Russian five-day week, with a holiday calendar an admin can update.

Deadlines are in calendar days unless a process asks for working days (task property
`dueInWorkingDays`, service operation `working_deadline`). The holiday calendar is a JSON file
(data/holidays_ru.json by default, setting HOLIDAYS_FILE) re-read whenever it changes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from .durations import due_from

log = logging.getLogger(__name__)

MAX_WORKING_DAYS = 3660  # ten years: a bound against typos like 1000000


class CalendarError(ValueError):
    """The holiday calendar file or a working-days value is invalid; the message is for people."""


@dataclass(frozen=True)
class WorkingCalendar:
    """Non-working holidays and working weekend days on top of the Monday-Friday week."""

    holidays: frozenset[date]
    workdays: frozenset[date]
    years: frozenset[int]

    def is_working_day(self, day: date) -> bool:
        """True when people work on that day (five-day week with holidays and transfers)."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def covers(self, day: date) -> bool:
        """True when the calendar file has the official data for the day's year."""
        return day.year in self.years

    def add_working_days(self, start: date, count: int) -> date:
        """The count-th working day after start (start itself is not counted; 0 gives start)."""
        if count < 0 or count > MAX_WORKING_DAYS:
            raise CalendarError(f"Число рабочих дней вне допустимого диапазона: {count}.")
        day, left = start, count
        while left > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        if not self.covers(day) or not self.covers(start):
            _warn_uncovered(day.year)
        return day


WEEKENDS_ONLY = WorkingCalendar(frozenset(), frozenset(), frozenset())
_CACHE: dict[Path, tuple[float, WorkingCalendar]] = {}
_WARNED: set[int] = set()


def _warn_uncovered(year: int) -> None:
    if year not in _WARNED:
        _WARNED.add(year)
        log.warning(
            "Holiday calendar has no data for %s: only weekends are non-working that year.", year
        )


def _dates(values: Any, where: str) -> set[date]:
    if not isinstance(values, list):
        raise CalendarError(f"{where}: ожидается список дат ГГГГ-ММ-ДД.")
    result = set()
    for value in values:
        try:
            result.add(date.fromisoformat(str(value)))
        except ValueError as exc:
            raise CalendarError(f"{where}: неверная дата «{value}».") from exc
    return result


def parse_calendar(document: Any) -> WorkingCalendar:
    """Build a calendar from the JSON document {years: {YYYY: {holidays: [], workdays: []}}}."""
    years = document.get("years") if isinstance(document, dict) else None
    if not isinstance(years, dict):
        raise CalendarError("Календарь должен содержать объект «years».")
    holidays: set[date] = set()
    workdays: set[date] = set()
    covered: set[int] = set()
    for year, entry in years.items():
        if not str(year).isdigit() or not isinstance(entry, dict):
            raise CalendarError(f"Год «{year}»: ожидается объект с holidays и workdays.")
        for day in (h := _dates(entry.get("holidays", []), f"{year}.holidays")) | (
            w := _dates(entry.get("workdays", []), f"{year}.workdays")
        ):
            if day.year != int(year):
                raise CalendarError(f"Дата {day.isoformat()} указана в разделе года {year}.")
        holidays |= h
        workdays |= w
        covered.add(int(year))
    both = holidays & workdays
    if both:
        first = min(both).isoformat()
        raise CalendarError(f"Дата {first} указана и как праздник, и как рабочий день.")
    return WorkingCalendar(frozenset(holidays), frozenset(workdays), frozenset(covered))


def load_calendar(path: Path) -> WorkingCalendar:
    """The calendar in path, re-read when the file changes; weekends only if there is none."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        log.warning("Holiday calendar %s not found: only weekends are non-working.", path)
        return WEEKENDS_ONLY
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalendarError(f"Файл календаря {path} не читается как JSON: {exc}") from exc
    calendar = parse_calendar(document)
    _CACHE[path] = (mtime, calendar)
    return calendar


def current_calendar() -> WorkingCalendar:
    """The calendar configured for this application (HOLIDAYS_FILE)."""
    return load_calendar(Path(current_app.config["HOLIDAYS_FILE"]))


def deadline_zone() -> ZoneInfo:
    """The time zone in which days start and end for deadlines (DEADLINE_TIMEZONE)."""
    return ZoneInfo(current_app.config.get("DEADLINE_TIMEZONE", "Europe/Moscow"))


def working_deadline(
    start: datetime,
    working_days: int,
    calendar: WorkingCalendar | None = None,
    zone: ZoneInfo | None = None,
) -> datetime:
    """The end (23:59:59 local time) of the n-th working day after start's local date, in UTC."""
    calendar = calendar or current_calendar()
    zone = zone or deadline_zone()
    local_start = start.astimezone(zone).date()
    last_day = calendar.add_working_days(local_start, working_days)
    return datetime.combine(last_day, time(23, 59, 59), zone).astimezone(UTC)


def working_days_value(spec: object, data: dict[str, Any]) -> int | None:
    """A working-days count from a property value: a number, or '=name' of a data key."""
    value: object = spec
    if isinstance(spec, str) and spec.startswith("="):
        value = data.get(spec[1:])
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().strip('"').isdigit():
        return int(value.strip().strip('"'))
    raise CalendarError(f"Число рабочих дней должно быть целым числом, получено «{value}».")


def task_due_at(
    start: datetime, properties: dict[str, str], data: dict[str, Any]
) -> datetime | None:
    """Due time of a human task: dueInWorkingDays (N or =key) wins over dueIn (ISO duration)."""
    if properties.get("dueInWorkingDays"):
        count = working_days_value(properties["dueInWorkingDays"], data)
        if count is not None:
            return working_deadline(start, count)
    return due_from(start, properties.get("dueIn"), data)
