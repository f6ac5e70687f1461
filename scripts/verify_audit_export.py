#!/usr/bin/env python3
"""Check an audit log export offline (standard library only).

    python scripts/verify_audit_export.py audit-20260101T120000.jsonl
    python scripts/verify_audit_export.py audit.csv --quiet

For every event the SHA-256 is recomputed exactly as app/services/audit.compute_hash does
(canonical JSON of seq, occurred_at, actor, kind, instance_id, task_id, org_unit_id, payload
and prev_hash) and compared with the exported hash; the sequence numbers must increase; where
two exported events are consecutive (seq n and n+1) the second's prev_hash must be the first's
hash. A filtered export (or one after a retention purge) has gaps between sequence numbers:
there the link cannot be checked, the gaps are reported by seq. A `retention_purged`
checkpoint in the file lets the link across the purged stretch be checked too.

Exit code 0: every event is intact (gaps are listed, not errors); 1: a hash, a link or the
order is wrong (the first bad seq is named), or the JSON Lines file is cut short; 2: the file
cannot be read.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
INT_FIELDS = ("seq", "instance_id", "task_id", "org_unit_id")
MAX_LISTED = 1000  # gaps and problems kept for the report; memory stays flat


def canonical(value: Any) -> bytes:
    """The bytes the chain hashes: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode("utf-8")


def compute_hash(event: dict[str, Any]) -> str:
    """SHA-256 of an exported event, as the application computes it."""
    body = {
        "seq": event["seq"],
        "occurred_at": event["occurred_at"],
        "actor": event["actor"],
        "kind": event["kind"],
        "instance_id": event["instance_id"],
        "task_id": event["task_id"],
        "org_unit_id": event["org_unit_id"],
        "payload": event["payload"],
        "prev_hash": event["prev_hash"],
    }
    return hashlib.sha256(canonical(body)).hexdigest()


class BadFile(Exception):
    """The file is not an audit export this script can read."""


@dataclass
class Report:
    """The outcome of a check."""

    events: int = 0
    links_checked: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)  # the first MAX_LISTED
    gap_count: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    header: dict[str, Any] | None = None
    footer: dict[str, Any] | None = None
    first_seq: int | None = None
    last_seq: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, seq: int, message: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append((seq, message))

    def gap(self, first: int, last: int) -> None:
        self.gap_count += 1
        if len(self.gaps) < MAX_LISTED:
            self.gaps.append((first, last))


def _read_jsonl(path: Path, report: Report) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadFile(f"строка {number}: не JSON ({exc.msg})") from exc
            if "_export" in record:
                report.header = record["_export"]
                continue
            if "_export_end" in record:
                report.footer = record["_export_end"]
                continue
            yield record


def _read_csv(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"seq", "occurred_at", "kind", "payload", "prev_hash", "hash"} - set(
            reader.fieldnames or []
        )
        if missing:
            raise BadFile(f"нет столбцов: {', '.join(sorted(missing))}")
        for row in reader:
            record: dict[str, Any] = dict(row)
            for name in INT_FIELDS:
                value = record.get(name)
                record[name] = int(value) if isinstance(value, str) and value else None
            record["actor"] = record.get("actor") or None
            try:
                record["payload"] = json.loads(record["payload"])
            except json.JSONDecodeError as exc:
                raise BadFile(f"событие {record['seq']}: payload не JSON") from exc
            yield record


def events_of(path: Path, report: Report) -> Iterator[dict[str, Any]]:
    """The events of an export, whichever of the two formats it is."""
    with path.open(encoding="utf-8-sig") as handle:
        first = handle.readline().lstrip()
    if first.startswith("{"):
        return _read_jsonl(path, report)
    return _read_csv(path)


def check(path: Path) -> Report:
    """Verify every event's hash, the order, and the links between consecutive events."""
    report = Report()
    previous: dict[str, Any] | None = None
    # through_seq -> through_hash of the retention checkpoints seen in the file
    checkpoints: dict[int, str] = {}
    for event in events_of(path, report):
        seq = event.get("seq")
        if not isinstance(seq, int):
            raise BadFile(f"событие без номера: {str(event)[:80]}")
        report.events += 1
        report.first_seq = seq if report.first_seq is None else report.first_seq
        report.last_seq = seq
        if compute_hash(event) != event.get("hash"):
            report.problem(seq, "хеш не соответствует содержимому события")
        if event.get("kind") == "retention_purged" and isinstance(event.get("payload"), dict):
            through = event["payload"].get("through_seq")
            if isinstance(through, int):
                checkpoints[through] = str(event["payload"].get("through_hash"))
        if previous is None:
            if seq == 1 and event.get("prev_hash") != GENESIS_HASH:
                report.problem(seq, "первое событие журнала не ссылается на начало цепочки")
            elif seq > 1:
                report.gap(1, seq - 1)
        else:
            prev_seq = previous["seq"]
            if seq <= prev_seq:
                report.problem(seq, f"нарушен порядок: № {seq} после № {prev_seq}")
            elif seq == prev_seq + 1:
                report.links_checked += 1
                if event.get("prev_hash") != previous.get("hash"):
                    report.problem(seq, "ссылка на предыдущее событие не совпадает")
            else:
                report.gap(prev_seq + 1, seq - 1)
                anchor = checkpoints.get(seq - 1)
                if anchor is not None:
                    report.links_checked += 1
                    if event.get("prev_hash") != anchor:
                        report.problem(seq, "ссылка не совпадает с контрольной точкой хранения")
        previous = event
    if report.header is not None and report.footer is None:
        report.problem((report.last_seq or 0) + 1, "файл обрывается: нет завершающей строки")
    if report.footer is not None and report.footer.get("count") != report.events:
        report.problem(
            (report.last_seq or 0) + 1,
            f"в файле {report.events} событий, а выгружено {report.footer.get('count')}",
        )
    return report


def _ranges(report: Report, limit: int = 20) -> str:
    shown = [f"{a}" if a == b else f"{a}–{b}" for a, b in report.gaps[:limit]]
    more = f" и ещё {report.gap_count - limit}" if report.gap_count > limit else ""
    return ", ".join(shown) + more


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Проверка выгрузки журнала аудита РСНМС.")
    parser.add_argument("file", type=Path, help="выгрузка .jsonl или .csv")
    parser.add_argument("--quiet", action="store_true", help="только итог")
    args = parser.parse_args(argv)
    try:
        report = check(args.file)
    except (OSError, BadFile, UnicodeDecodeError) as exc:
        print(f"Файл не прочитан: {exc}", file=sys.stderr)
        return 2
    filtered = bool(report.header and report.header.get("filtered"))
    print(
        f"Событий: {report.events} (№ {report.first_seq}–{report.last_seq}); "
        f"хеши пересчитаны у всех; проверено ссылок: {report.links_checked}."
    )
    if report.gap_count:
        why = "выгрузка отфильтрована" if filtered else "удаление по сроку хранения или изъятие"
        print(f"Пропуски номеров ({why}; ссылки через них не проверяются): {_ranges(report)}")
    if report.ok:
        print("Результат: выгрузка цела.")
        return 0
    first_seq, first_message = report.problems[0]
    print(f"Результат: НАРУШЕНИЕ. Первое повреждённое событие № {first_seq}: {first_message}.")
    if not args.quiet:
        for seq, message in report.problems[1:20]:
            print(f"  № {seq}: {message}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
