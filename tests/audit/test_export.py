"""Exports (CSV, JSON Lines) of filtered views, streamed, checked offline by the script."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.audit.helpers import add_user, run_plan
from tests.conftest import ROOT, ApiClient

SCRIPT = ROOT / "scripts" / "verify_audit_export.py"


def _export(api: ApiClient, user: str, query: str) -> Any:
    resp = api.get(f"/audit/export?{query}", user)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp


def _jsonl(text: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    header, *events, footer = lines
    return header["_export"], events, footer["_export_end"]


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def _verify(tmp_path: Path, name: str, content: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=False
    )


def _list(api: ApiClient, user: str, query: str) -> list[dict[str, Any]]:
    page = api.get(f"/audit?per_page=500&{query}", user).get_json()
    assert page["total"] <= 500
    return list(page["items"])


def test_full_jsonl_export_is_streamed_and_verifies(api: ApiClient, tmp_path: Path) -> None:
    run_plan(api, "gatchina-school-1")
    run_plan(api, "luga-school-1", finish=False)
    listed = _list(api, "auditor", "")
    resp = _export(api, "auditor", "format=jsonl")
    assert resp.is_streamed
    assert resp.mimetype == "application/x-ndjson"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Content-Disposition"].endswith('.jsonl"')
    text = resp.get_data(as_text=True)
    header, events, footer = _jsonl(text)
    assert header["format"] == "rsnms-audit-export/1" and header["filtered"] is False
    assert header["exported_by"] == "auditor"
    assert footer == {"count": len(events), "last_seq": events[-1]["seq"]}
    # every event listed before the export (the export's own record comes after it)
    assert [e["seq"] for e in events] == [e["seq"] for e in listed]
    assert events[0]["seq"] == 1 and events[0]["prev_hash"] == "0" * 64
    assert events == [{k: e[k] for k in events[0]} for e in listed]
    checked = _verify(tmp_path, "all.jsonl", text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"проверено ссылок: {len(events) - 1}" in checked.stdout
    assert "выгрузка цела" in checked.stdout


def test_csv_export_of_a_filtered_view_verifies_with_gaps(api: ApiClient, tmp_path: Path) -> None:
    first = run_plan(api, "gatchina-school-1")
    run_plan(api, "gatchina-school-2")
    resp = _export(api, "auditor", f"format=csv&instance_id={first}&kind=task_completed")
    assert resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    rows = _csv(text)
    expected = _list(api, "auditor", f"instance_id={first}&kind=task_completed")
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in expected]
    assert len(rows) == 3
    assert list(rows[0]) == [
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
    ]
    assert json.loads(rows[0]["payload"])["legal_basis"]
    assert "Иванова Анна Петровна" in text  # UTF-8 kept, not \\u-escaped
    checked = _verify(tmp_path, "filtered.csv", text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Пропуски номеров" in checked.stdout


@pytest.mark.parametrize(
    "query",
    [
        "process_key=mo_plan_approval",
        "actor=director.gatchina-school-1",
        "kind=task_claimed,task_completed",
        "org_unit_id={luga}",
        "since={since}",
        "until={since}",
    ],
)
def test_every_filter_exports_what_the_list_shows(api: ApiClient, query: str) -> None:
    run_plan(api, "gatchina-school-1")
    run_plan(api, "luga-school-1", finish=False)
    since = _list(api, "auditor", "")[10]["occurred_at"].replace("+", "%2B")
    query = query.format(luga=api.unit_id("luga"), since=since)
    expected = [e["seq"] for e in _list(api, "auditor", query)]
    assert expected
    _, events, _ = _jsonl(_export(api, "auditor", f"format=jsonl&{query}").get_data(as_text=True))
    assert [e["seq"] for e in events] == expected
    expected = [e["seq"] for e in _list(api, "auditor", query)]  # now with the export's record
    rows = _csv(_export(api, "auditor", f"format=csv&{query}").get_data(as_text=True))
    assert [int(r["seq"]) for r in rows] == expected


def test_export_is_scoped_and_audited(api: ApiClient, seeded: Flask, tmp_path: Path) -> None:
    add_user(seeded, "auditor.gatchina", [("auditor", "gatchina")])
    gatchina = run_plan(api, "gatchina-school-1")
    run_plan(api, "luga-school-1")
    text = _export(api, "auditor.gatchina", "format=jsonl").get_data(as_text=True)
    header, events, _ = _jsonl(text)
    assert header["filtered"] is True  # limited to the reader's scope
    assert {e["instance_id"] for e in events} == {gatchina}
    assert _verify(tmp_path, "scoped.jsonl", text).returncode == 0
    exports = _list(api, "auditor", "kind=audit_exported")
    assert len(exports) == 1
    record = exports[0]
    assert record["actor"] == "auditor.gatchina"
    assert record["org_unit_id"] == api.unit_id("gatchina")
    assert record["payload"]["format"] == "jsonl" and record["payload"]["via"] == "api"
    assert record["payload"]["through_seq"] == header["through_seq"]
    # the gatchina auditor sees their own export record
    assert [e["seq"] for e in _list(api, "auditor.gatchina", "kind=audit_exported")] == [
        record["seq"]
    ]


def test_export_refuses_non_readers_and_bad_format(api: ApiClient) -> None:
    assert api.get("/audit/export", "mo_head.gatchina-school-1").status_code == 403
    assert api.get("/audit/export?format=xml", "auditor").status_code == 422
    assert api.get("/audit/export").status_code == 401


def _rewrite_jsonl(text: str, change: Any) -> str:
    out = []
    for line in text.splitlines():
        record = json.loads(line)
        if "seq" in record:
            record = change(record)
            if record is None:
                continue
        out.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(out) + "\n"


def test_script_finds_tampering_in_an_exported_file(api: ApiClient, tmp_path: Path) -> None:
    run_plan(api, "gatchina-school-1")
    text = _export(api, "auditor", "format=jsonl").get_data(as_text=True)

    def edit(record: dict[str, Any]) -> dict[str, Any]:
        if record["seq"] == 6:
            record["actor"] = "someone.else"
        return record

    edited = _verify(tmp_path, "edited.jsonl", _rewrite_jsonl(text, edit))
    assert edited.returncode == 1
    assert "№ 6" in edited.stdout and "хеш" in edited.stdout

    def drop(record: dict[str, Any]) -> dict[str, Any] | None:
        return None if record["seq"] == 5 else record

    dropped = _verify(tmp_path, "dropped.jsonl", _rewrite_jsonl(text, drop))
    assert dropped.returncode == 1  # the footer's count no longer matches
    assert "Пропуски номеров" in dropped.stdout and "5" in dropped.stdout

    lines = text.splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    swapped = _verify(tmp_path, "swapped.jsonl", "\n".join(lines) + "\n")
    assert swapped.returncode == 1 and "порядок" in swapped.stdout

    truncated = _verify(tmp_path, "cut.jsonl", "\n".join(lines[:-3]) + "\n")
    assert truncated.returncode == 1 and "обрывается" in truncated.stdout

    rows = text.splitlines()
    csv_text = _export(api, "auditor", "format=csv").get_data(as_text=True)
    forged_csv = csv_text.replace("Одобрено", "Отклонено", 1)
    assert forged_csv != csv_text and rows
    forged = _verify(tmp_path, "forged.csv", forged_csv)
    assert forged.returncode == 1 and "хеш" in forged.stdout

    garbage = _verify(tmp_path, "garbage.jsonl", "{not json\n")
    assert garbage.returncode == 2


def test_cli_export_to_a_file(seeded: Flask, api: ApiClient, tmp_path: Path) -> None:
    run_plan(api, "gatchina-school-1")
    out = tmp_path / "cli.csv"
    runner = seeded.test_cli_runner()
    result = runner.invoke(
        args=["audit", "export", "--format", "csv", "--output", str(out), "--org-unit", "gatchina"]
    )
    assert result.exit_code == 0, result.output
    rows = _csv(out.read_text(encoding="utf-8"))
    assert rows and all(r["org_unit_id"] for r in rows)
    checked = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout
    whole = runner.invoke(args=["audit", "export"])  # JSON Lines to stdout
    assert whole.exit_code == 0
    header, events, footer = _jsonl(whole.output)
    assert header["exported_by"] is None and footer["count"] == len(events)
    bad = runner.invoke(args=["audit", "export", "--org-unit", "atlantis"])
    assert bad.exit_code == 1 and "atlantis" in bad.output
    bad_date = runner.invoke(args=["audit", "export", "--since", "вчера"])
    assert bad_date.exit_code == 2
