"""Benchmark: exporting 100,000 audit events streams in flat memory (make bench).

Fills the log with a valid chain of 100,000 events (bulk insert, realistic payloads with
Cyrillic text), then exports it through the HTTP API as JSON Lines and CSV, reading the
streamed body chunk by chunk, under tracemalloc; checks the file offline with the script and
verifies the chain in the database. Figures are printed; the memory check compares the peak of
a 10,000-event export with that of the 100,000-event one (a constant-memory export stays flat).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select

from app.extensions import db
from app.models import AuditEvent, AuditHead, OrgUnit
from app.models.base import utcnow
from app.services import audit
from tests.conftest import ROOT, ApiClient

EVENTS = int(os.environ.get("AUDIT_EXPORT_EVENTS", "100000"))
SMALL = EVENTS // 10
_BATCH = 5000


def _fill(app: Flask, count: int) -> int:
    """Append `count` chained events after the current head; returns the new last seq."""
    with app.app_context():
        head = db.session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
        units = list(db.session.execute(select(OrgUnit.id)).scalars())
        seq, prev = head.last_seq, head.last_hash
        start = utcnow() - timedelta(days=365)
        rows: list[dict[str, Any]] = []
        for i in range(count):
            seq += 1
            moment = start + timedelta(seconds=i * 3)
            payload = {
                "bpmn_id": "Task_council_review",
                "name": "Рассмотрение плана методическим советом",
                "data": {
                    "council_decision": "approve",
                    "council_comment": f"Одобрено, замечаний нет ({i})",
                    "members": ["Иванова Анна Петровна", "Петров Сергей Иванович"],
                },
                "legal_basis": "seeds/001_66707f66906d6c67.txt, п. 5.3.3",
            }
            unit = units[i % len(units)]
            actor = f"methodical_council.user-{i % 50}"
            digest = audit.compute_hash(
                seq, moment, actor, "task_completed", None, None, unit, payload, prev
            )
            rows.append(
                {
                    "seq": seq,
                    "occurred_at": moment,
                    "actor_id": None,
                    "actor_username": actor,
                    "instance_id": None,
                    "task_id": None,
                    "org_unit_id": unit,
                    "kind": "task_completed",
                    "payload": payload,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
            if len(rows) >= _BATCH:
                db.session.execute(insert(AuditEvent), rows)
                rows = []
        if rows:
            db.session.execute(insert(AuditEvent), rows)
        head.last_seq, head.last_hash = seq, prev
        db.session.commit()
        return seq


def _measure(action: Callable[[], Any], *, trace: bool) -> tuple[Any, float, float]:
    """Result, seconds, and (when traced) peak traced memory in MiB of an action.

    tracemalloc slows Python down several times: times are taken from untraced runs.
    """
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        result = action()
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
        if trace:
            tracemalloc.stop()
    return result, elapsed, peak


def _download(api: ApiClient, query: str, target: Path) -> tuple[int, int]:
    """Stream an export to a file chunk by chunk; returns (bytes, chunks)."""
    resp = api.client.get(
        f"/api/v1/audit/export?{query}",
        headers={"Authorization": f"Bearer {api.token('auditor')}"},
        buffered=False,
    )
    assert resp.status_code == 200
    assert resp.is_streamed
    size = chunks = 0
    with target.open("wb") as handle:
        for chunk in resp.response:
            data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
            handle.write(data)
            size += len(data)
            chunks += 1
    resp.close()
    return size, chunks


@pytest.mark.perf
def test_export_100k_events_in_flat_memory(api: ApiClient, seeded: Flask, tmp_path: Path) -> None:
    api.token("auditor")
    started = time.perf_counter()
    _fill(seeded, SMALL)
    small_file = tmp_path / "small.jsonl"
    _, _, small_peak = _measure(lambda: _download(api, "format=jsonl", small_file), trace=True)
    last = _fill(seeded, EVENTS - SMALL)
    fill_seconds = time.perf_counter() - started
    print(f"\nзаполнение: {EVENTS} событий за {fill_seconds:.1f} с; последний № {last}")

    figures = {}
    for fmt in ("jsonl", "csv"):
        target = tmp_path / f"all.{fmt}"
        (size, chunks), seconds, _ = _measure(
            lambda target=target, fmt=fmt: _download(api, f"format={fmt}", target), trace=False
        )
        _, _, peak = _measure(
            lambda fmt=fmt: _download(api, f"format={fmt}", tmp_path / f"traced.{fmt}"),
            trace=True,
        )
        figures[fmt] = (size, peak)
        print(
            f"выгрузка {fmt}: {last} событий, {size / 2**20:.1f} МиБ, {chunks} частей, "
            f"{seconds:.2f} с ({last / seconds:,.0f} событий/с), пик памяти {peak:.2f} МиБ"
        )
    print(f"выгрузка jsonl {SMALL}+ событий: пик памяти {small_peak:.2f} МиБ")

    with (tmp_path / "all.jsonl").open(encoding="utf-8") as handle:
        lines = sum(1 for _ in handle)
    assert lines == last + 2  # header, every event, footer
    for fmt, (size, peak) in figures.items():
        # Constant memory: ten times the events, hardly more memory than the small export
        # (holding the events would take several times the file's size).
        assert peak < small_peak * 1.5 + 2, (fmt, small_peak, peak)
        assert peak < 32 and peak * 2**20 < size / 5, (fmt, peak, size)

    for fmt in ("jsonl", "csv"):
        script = ROOT / "scripts" / "verify_audit_export.py"
        checked, seconds, _ = _measure(
            lambda fmt=fmt: subprocess.run(
                [sys.executable, str(script), str(tmp_path / f"all.{fmt}")],
                capture_output=True,
                text=True,
                check=False,
            ),
            trace=False,
        )
        print(f"проверка файла {fmt} скриптом: {seconds:.2f} с")
        assert checked.returncode == 0, checked.stdout + checked.stderr

    with seeded.app_context():
        result, seconds, _ = _measure(audit.verify, trace=False)
    print(f"flask audit verify: {result['checked']} событий, {seconds:.2f} с")
    assert result["ok"], result
    assert result["checked"] == last + 4  # and the records of the four exports after `last`
