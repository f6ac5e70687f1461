"""Exports of the audit log (CSV or JSON Lines) that can be checked offline.

An export carries every field the SHA-256 of an event covers, exactly as hashed, plus the
previous hash, so `scripts/verify_audit_export.py` can recompute each hash and check the links
between consecutive events without the database. Events are read in keyset batches by seq and
written as they come: memory stays flat whatever the size of the log. Every export is itself
audited (`audit_exported`, with the filters and the last seq it covers).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..models import User
from ..models.base import utcnow
from . import audit, audit_log
from .audit_log import AuditFilter, ReaderScope
from .errors import ValidationFailed
from .uow import transaction

EXPORT_FORMAT = "rsnms-audit-export/1"
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
# The hashed fields of an event under the names compute_hash gives them (actor = username).
COLUMNS = (
    "seq",
    "occurred_at",
    "actor",
    "kind",
    "instance_id",
    "task_id",
    "org_unit_id",
    "payload",
    "prev_hash",
    "hash",
)
_CHUNK_ROWS = 500


def canonical_json(value: Any) -> str:
    """JSON the way the chain hashes it: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_record(row: Any) -> dict[str, Any]:
    """One event (a row of audit_event) with its hashed fields, as exported."""
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at.isoformat(),
        "actor": row.actor_username,
        "kind": row.kind,
        "instance_id": row.instance_id,
        "task_id": row.task_id,
        "org_unit_id": row.org_unit_id,
        "payload": row.payload,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


@dataclass
class Export:
    """A started export: what it covers and the generator of its text."""

    fmt: str
    scope: ReaderScope
    flt: AuditFilter
    upto_seq: int
    header: dict[str, Any]

    @property
    def mimetype(self) -> str:
        """The Content-Type of the file."""
        return FORMATS[self.fmt]

    @property
    def filename(self) -> str:
        """A file name with the time of the export."""
        stamp = self.header["exported_at"][:19].replace(":", "").replace("-", "")
        return f"audit-{stamp}.{self.fmt}"

    def chunks(self) -> Iterator[str]:
        """The file's text, a few hundred events at a time."""
        rows = audit_log.iter_rows(self.scope, self.flt, upto_seq=self.upto_seq)
        if self.fmt == "csv":
            yield from _csv_chunks(rows)
        else:
            yield from _jsonl_chunks(rows, self.header)


def _csv_chunks(rows: Iterator[Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so that spreadsheet programs read the Cyrillic as UTF-8
    writer.writerow(COLUMNS)
    pending = 0
    for row in rows:
        record = event_record(row)
        record["payload"] = canonical_json(record["payload"])
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
        pending += 1
        if pending >= _CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def _jsonl_chunks(rows: Iterator[Any], header: dict[str, Any]) -> Iterator[str]:
    lines = [json.dumps({"_export": header}, ensure_ascii=False)]
    count = 0
    last_seq = None
    for row in rows:
        lines.append(canonical_json(event_record(row)))
        count += 1
        last_seq = row.seq
        if len(lines) >= _CHUNK_ROWS:
            yield "\n".join(lines) + "\n"
            lines = []
    lines.append(json.dumps({"_export_end": {"count": count, "last_seq": last_seq}}))
    yield "\n".join(lines) + "\n"


def start_export(actor: User | None, flt: AuditFilter, fmt: str, *, via: str) -> Export:
    """Check the reader, record the export in the log, and return the export to stream.

    `actor` None is the command line operator, who sees everything. The export covers the
    events up to the newest one at this moment, so the file is finite while the log grows.
    """
    if fmt not in FORMATS:
        raise ValidationFailed(
            "Неизвестный формат выгрузки.", {"format": ["Допустимо: csv, jsonl."]}
        )
    scope = audit_log.reader_scope(actor)
    upto_seq = audit_log.last_seq()
    header = {
        "format": EXPORT_FORMAT,
        "file_format": fmt,
        "exported_at": utcnow().isoformat(),
        "exported_by": actor.username if actor is not None else None,
        "filters": flt.as_dict(),
        "filtered": flt.is_filtered or not scope.complete,
        "through_seq": upto_seq,
        "hash": "sha256 over canonical JSON of the event's fields and prev_hash",
    }
    unit = (
        flt.org_unit_id
        if flt.org_unit_id is not None and scope.sees_unit(flt.org_unit_id)
        else None
    )
    if unit is None and len(scope.roots) == 1:
        unit = next(iter(scope.roots))
    with transaction():
        audit.record(
            "audit_exported",
            actor,
            org_unit_id=unit,
            payload={
                "format": fmt,
                "filters": flt.as_dict(),
                "through_seq": upto_seq,
                "via": via,
            },
        )
    return Export(fmt=fmt, scope=scope, flt=flt, upto_seq=upto_seq, header=header)
