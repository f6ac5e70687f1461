"""Benchmark: exporting 100,000 audit events streams in flat memory (make bench).

Fills the log with a valid chain of 100,000 events (bulk insert, realistic payloads with
Cyrillic text), then exports it through the HTTP API as JSON Lines and CSV, reading the
streamed body chunk by chunk, under tracemalloc; checks the file offline with the script and
verifies the chain in the database. Figures are printed; the memory check compares the peak of
a 10,000-event export with that of the 100,000-event one (a constant-memory export stays flat).

`test_export_million_events_postgres` does the same at 1,000,000 events on PostgreSQL (COPY
into a throwaway database): each export runs in a child process — `flask audit export` and the
HTTP API through the test client — whose wall time and peak RSS (`os.wait4`) are recorded
beside those of a child exporting a handful of events, and each file is checked with
scripts/verify_audit_export.py. Run it alone:
`TEST_DB=postgres pytest -m perf -s tests/perf/test_audit_export_perf.py -k million`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
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
from tests.conftest import DEMO_PASSWORD, ROOT, ApiClient

from . import support

EVENTS = int(os.environ.get("AUDIT_EXPORT_EVENTS", "100000"))
SMALL = EVENTS // 10
_BATCH = 5000


def _chained_rows(count: int, seq: int, prev: str, units: list[int]) -> Iterator[dict[str, Any]]:
    """`count` events with realistic payloads, chained after (seq, prev)."""
    start = utcnow() - timedelta(days=365)
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
        yield {
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
        prev = digest


def _fill(app: Flask, count: int) -> int:
    """Append `count` chained events after the current head; returns the new last seq."""
    with app.app_context():
        head = db.session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
        units = list(db.session.execute(select(OrgUnit.id)).scalars())
        rows: list[dict[str, Any]] = []
        last = {"seq": head.last_seq, "hash": head.last_hash}
        for row in _chained_rows(count, head.last_seq, head.last_hash, units):
            rows.append(row)
            last = row
            if len(rows) >= _BATCH:
                db.session.execute(insert(AuditEvent), rows)
                rows = []
        if rows:
            db.session.execute(insert(AuditEvent), rows)
        head.last_seq, head.last_hash = last["seq"], last["hash"]
        db.session.commit()
        return int(last["seq"])


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


# --- a million events on PostgreSQL -----------------------------------------------------------

MILLION = int(os.environ.get("AUDIT_EXPORT_MILLION", "1000000"))
_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "instance_id",
    "task_id",
    "org_unit_id",
    "kind",
    "payload",
    "prev_hash",
    "hash",
)

# The HTTP export in a child process of its own, so that its peak RSS is the export's.
_HTTP_CHILD = """
import sys, time
from wsgi import app
query, target, password = sys.argv[1:4]
client = app.test_client()
answer = client.post("/api/v1/auth/token", json={"username": "auditor", "password": password})
token = answer.get_json()["token"]
started = time.perf_counter()
resp = client.get(
    "/api/v1/audit/export?" + query,
    headers={"Authorization": "Bearer " + token},
    buffered=False,
)
assert resp.status_code == 200 and resp.is_streamed, resp.status_code
with open(target, "wb") as handle:
    for chunk in resp.response:
        handle.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))
resp.close()
print(f"{time.perf_counter() - started:.3f}")
"""


def _copy_fill(database_url: str, count: int) -> int:
    """Append `count` chained events with COPY (PostgreSQL); returns the new last seq."""
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE")
        seq, prev = row.fetchone() or (0, "0" * 64)
        units = [r[0] for r in conn.execute("SELECT id FROM org_unit ORDER BY id")]
        last_seq, last_hash = seq, prev
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY audit_event ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
        ):
            for event in _chained_rows(count, seq, prev, units):
                event["payload"] = json.dumps(event["payload"], ensure_ascii=False)
                copy.write_row([event[c] for c in _COLUMNS])
                last_seq, last_hash = event["seq"], event["hash"]
        conn.execute(
            "UPDATE audit_head SET last_seq = %s, last_hash = %s WHERE id = 1",
            (last_seq, last_hash),
        )
    return int(last_seq)


def _child(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, float, str]:
    """Run a child to its end: wall seconds, its peak RSS in MiB (os.wait4), its stdout."""
    started = time.perf_counter()
    with log.open("w") as err, (log.with_suffix(".out")).open("w+") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)  # noqa: S603
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        stdout = out.read()
    assert proc.returncode == 0, log.read_text()
    return seconds, usage.ru_maxrss / 1024, stdout  # ru_maxrss is KiB on Linux


def _export_argv(channel: str, fmt: str, target: Path, *, few: bool) -> list[str]:
    """The child that exports: `flask audit export` or the HTTP API (few: one event kind)."""
    if channel == "cli":
        extra = ["--kind", "demo_seeded"] if few else []
        return [
            *(sys.executable, "-m", "flask", "audit", "export", "--format", fmt),
            *("--output", str(target), *extra),
        ]
    query = f"format={fmt}" + ("&kind=demo_seeded" if few else "")
    return [sys.executable, "-c", _HTTP_CHILD, query, str(target), DEMO_PASSWORD]


def _footer(path: Path) -> dict[str, Any]:
    """The `_export_end` line of a JSON Lines export."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        last = handle.read().decode("utf-8", errors="replace").strip().splitlines()[-1]
    return dict(json.loads(last)["_export_end"])


@pytest.mark.perf
def test_export_million_events_postgres(need_postgres: None, tmp_path: Path) -> None:
    with support.throwaway_postgres("audit1m") as url:
        env = support.cli_env(url, tmp_path / "instance")
        support.run_cli(["db", "upgrade"], env)
        support.run_cli(["demo", "seed"], env)
        started = time.perf_counter()
        last = _copy_fill(url, MILLION)
        print(f"\nзаполнение (COPY): {MILLION} событий за {time.perf_counter() - started:.1f} с")

        script = ROOT / "scripts" / "verify_audit_export.py"
        for channel in ("cli", "http"):
            for fmt in ("csv", "jsonl"):
                few_file = tmp_path / f"few-{channel}.{fmt}"
                _, few_rss, _ = _child(
                    _export_argv(channel, fmt, few_file, few=True), env, tmp_path / "few.log"
                )
                target = tmp_path / f"all-{channel}.{fmt}"
                seconds, rss, out = _child(
                    _export_argv(channel, fmt, target, few=False), env, tmp_path / "all.log"
                )
                size = target.stat().st_size
                inner = f", из них выгрузка {float(out):.1f} с" if channel == "http" else ""
                print(
                    f"{channel} {fmt}: {size / 2**20:.0f} МиБ за {seconds:.1f} с{inner} "
                    f"({last / seconds:,.0f} событий/с); пик RSS {rss:.0f} МиБ "
                    f"(выгрузка одного события: {few_rss:.0f} МиБ)"
                )
                if fmt == "jsonl":
                    footer = _footer(target)
                    assert footer["count"] >= MILLION, footer
                    assert footer["last_seq"] >= last, footer
                checked, check_seconds, _ = _measure(
                    lambda target=target: subprocess.run(  # noqa: S603
                        [sys.executable, str(script), str(target)],
                        capture_output=True,
                        text=True,
                        check=False,
                    ),
                    trace=False,
                )
                print(f"  проверка скриптом: {check_seconds:.1f} с; {checked.stdout.strip()}")
                assert checked.returncode == 0, checked.stdout + checked.stderr
                # Flat memory: a million events need hardly more than one (the file is ~600 MiB).
                assert rss < few_rss + 64, (channel, fmt, few_rss, rss)
                target.unlink()

        # The chain in the database, with no time limit (run_cli stops at 5 minutes).
        seconds, rss, output = _child(
            [sys.executable, "-m", "flask", "audit", "verify"], env, tmp_path / "verify.log"
        )
        print(f"flask audit verify: {seconds:.1f} с, пик RSS {rss:.0f} МиБ; {output.strip()}")
        assert "цела" in output, output
