"""Retention: the report, the audited purge, and verification that still works afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select, update

from app.config import Config, _retention_years
from app.extensions import db
from app.models import AuditEvent, ProcessInstance
from app.services import audit, retention
from tests.audit.helpers import add_user, run_plan
from tests.conftest import ROOT, ApiClient

NOW = datetime.now(UTC)


def _age(app: Flask, instance_id: int, years: float, process_key: str | None = None) -> None:
    """Pretend the instance ended `years` ago (instance rows only; events are untouched)."""
    with app.app_context():
        values: dict[str, Any] = {"ended_at": NOW - timedelta(days=365.25 * years)}
        if process_key:
            values["process_key"] = process_key
        db.session.execute(
            update(ProcessInstance).where(ProcessInstance.id == instance_id).values(**values)
        )
        db.session.commit()


def _events_of(app: Flask, instance_id: int) -> int:
    with app.app_context():
        return int(
            db.session.execute(
                select(func.count(AuditEvent.seq)).where(AuditEvent.instance_id == instance_id)
            ).scalar_one()
        )


def _three_instances(api: ApiClient, app: Flask) -> tuple[int, int, int]:
    old = run_plan(api, "gatchina-school-1")
    recent = run_plan(api, "gatchina-school-2")
    attestation = run_plan(api, "luga-school-1")
    _age(app, old, 6)  # past 5 years
    _age(app, recent, 2)
    _age(app, attestation, 6, "attestation_support")  # 10 years for attestation support
    return old, recent, attestation


def test_retention_periods_are_configured_per_process(seeded: Flask) -> None:
    assert Config.RETENTION_YEARS == {"default": 5, "attestation_support": 10}
    with seeded.app_context():
        assert retention.retention_years("attestation_support") == 10
        assert retention.retention_years("mo_plan_approval") == 5
    assert _retention_years("mo_plan_approval=3, default=7,bad=x", {"default": 5}) == {
        "default": 7,
        "mo_plan_approval": 3,
    }
    leap = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert retention.years_before(leap, 5) == datetime(2023, 2, 28, 12, tzinfo=UTC)


def test_report_lists_what_is_past_retention_and_deletes_nothing(
    api: ApiClient, seeded: Flask
) -> None:
    old, _recent, _att = _three_instances(api, seeded)
    old_events = _events_of(seeded, old)
    api.token("auditor")  # signing in is an event too: done before counting
    with seeded.app_context():
        total = db.session.execute(select(func.count(AuditEvent.seq))).scalar_one()
        report = retention.report()
    rows = {r.process_key: r for r in report.rows}
    assert rows["mo_plan_approval"].instances == 1 and rows["mo_plan_approval"].years == 5
    assert rows["mo_plan_approval"].events == old_events > 5
    assert rows["attestation_support"].instances == 0 and rows["attestation_support"].years == 10
    cli = seeded.test_cli_runner().invoke(args=["audit", "retention-report"])
    assert cli.exit_code == 0, cli.output
    assert "mo_plan_approval" in cli.output and f"событий {old_events}" in cli.output
    assert "Ничего не удалено" in cli.output
    later = seeded.test_cli_runner().invoke(
        args=["audit", "retention-report", "--as-of", "2020-01-01"]
    )
    assert later.exit_code == 0 and "экземпляров 0" in later.output
    api_report = api.get("/audit/retention", "auditor").get_json()
    assert api_report["instances"] == 1 and api_report["events"] == old_events
    with seeded.app_context():
        assert db.session.execute(select(func.count(AuditEvent.seq))).scalar_one() == total


def test_report_is_scoped_for_a_municipal_auditor(api: ApiClient, seeded: Flask) -> None:
    add_user(seeded, "auditor.luga", [("auditor", "luga")])
    _three_instances(api, seeded)
    assert api.get("/audit/retention", "auditor.luga").get_json()["instances"] == 0
    assert api.get("/audit/retention", "mo_head.gatchina-school-1").status_code == 403


def test_purge_needs_confirm_and_is_audited_and_verify_still_works(
    api: ApiClient, seeded: Flask, tmp_path: Path
) -> None:
    old, recent, attestation = _three_instances(api, seeded)
    old_events = _events_of(seeded, old)
    runner = seeded.test_cli_runner()
    dry = runner.invoke(args=["audit", "purge", "--before", NOW.date().isoformat()])
    assert dry.exit_code == 0, dry.output
    assert f"событий {old_events}" in dry.output and "Ничего не удалено" in dry.output
    assert _events_of(seeded, old) == old_events

    done = runner.invoke(args=["audit", "purge", "--before", NOW.isoformat(), "--confirm"])
    assert done.exit_code == 0, done.output
    assert f"Удалено событий {old_events}" in done.output
    assert _events_of(seeded, old) == 0
    assert _events_of(seeded, recent) > 0 and _events_of(seeded, attestation) > 0

    with seeded.app_context():
        checkpoint = audit.latest_checkpoint()
        assert checkpoint is not None
        seq, payload = checkpoint
        assert payload["instance_ids"] == [old] and payload["events"] == old_events
        assert payload["per_process"] == {"mo_plan_approval": old_events}
        assert payload["retention_years"] == {"mo_plan_approval": 5}
        event = db.session.get(AuditEvent, seq)
        assert event is not None and event.actor_username is None and event.org_unit_id is None
        result = audit.verify()
    assert result["ok"] is True, result
    assert api.get("/audit/verify", "auditor").get_json()["ok"] is True
    verify_cli = runner.invoke(args=["audit", "verify"])
    assert verify_cli.exit_code == 0, verify_cli.output

    # an export of the whole log still checks offline, across the purged stretch
    text = api.get("/audit/export?format=jsonl", "auditor").get_data(as_text=True)
    path = tmp_path / "after-purge.jsonl"
    path.write_text(text, encoding="utf-8")
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify_audit_export.py"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
    assert "Пропуски номеров" in checked.stdout
    lines = [json.loads(line) for line in text.splitlines()]
    kinds = [r.get("kind") for r in lines]
    assert "retention_purged" in kinds

    # nothing left to purge: a second run changes nothing
    again = runner.invoke(args=["audit", "purge", "--before", NOW.isoformat(), "--confirm"])
    assert again.exit_code == 0 and "Нечего удалять" in again.output


def test_a_second_purge_moves_the_checkpoint(api: ApiClient, seeded: Flask) -> None:
    old, recent, _ = _three_instances(api, seeded)
    with seeded.app_context():
        first = retention.purge(NOW, confirm=True)
        assert first.instances == 1 and first.checkpoint_seq is not None
    run_plan(api, "luga-school-2")  # more events after the checkpoint
    _age(seeded, recent, 7)
    recent_events = _events_of(seeded, recent)
    with seeded.app_context():
        second = retention.purge(NOW, confirm=True)
        assert second.instances == 1 and second.events == recent_events > 0
        assert _events_of_in(recent) == 0
        assert second.through_seq is not None and first.through_seq is not None
        assert second.through_seq > first.through_seq
        assert audit.verify()["ok"] is True
        assert audit.latest_checkpoint()[0] == second.checkpoint_seq  # type: ignore[index]


def _events_of_in(instance_id: int) -> int:
    return int(
        db.session.execute(
            select(func.count(AuditEvent.seq)).where(AuditEvent.instance_id == instance_id)
        ).scalar_one()
    )


def test_tampering_below_the_checkpoint_is_still_found(api: ApiClient, seeded: Flask) -> None:
    _three_instances(api, seeded)
    with seeded.app_context():
        result = retention.purge(NOW, confirm=True)
        through = result.through_seq
        assert through is not None
        kept = list(
            db.session.execute(
                select(AuditEvent.seq).where(AuditEvent.seq < through).order_by(AuditEvent.seq)
            ).scalars()
        )
        assert len(kept) >= 2
        # an edit of a kept event below the checkpoint: its own hash
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == kept[1]).values(payload={"x": 1})
        )
        db.session.commit()
        assert audit.verify() == {
            "ok": False,
            "checked": audit.verify()["checked"],
            "first_bad_seq": kept[1],
            "reason": "hash",
        }
        db.session.rollback()
    with seeded.app_context():
        # a kept event removed below the checkpoint: the checkpoint's digest no longer matches
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == kept[0]))
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == kept[1]))
        db.session.commit()
        outcome = audit.verify()
        assert outcome["ok"] is False and outcome["reason"] == "checkpoint"
        assert outcome["first_bad_seq"] == result.checkpoint_seq


def test_removing_the_checkpoint_itself_breaks_verification(api: ApiClient, seeded: Flask) -> None:
    _three_instances(api, seeded)
    with seeded.app_context():
        result = retention.purge(NOW, confirm=True)
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == result.checkpoint_seq))
        db.session.commit()
        outcome = audit.verify()
    assert outcome["ok"] is False
    assert result.through_seq is not None
    assert outcome["first_bad_seq"] <= result.through_seq


def test_purge_refuses_a_broken_chain_and_a_future_date(api: ApiClient, seeded: Flask) -> None:
    old, _, _ = _three_instances(api, seeded)
    before = _events_of(seeded, old)
    with seeded.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(hash="0" * 64))
        db.session.commit()
    runner = seeded.test_cli_runner()
    refused = runner.invoke(args=["audit", "purge", "--before", NOW.isoformat(), "--confirm"])
    assert refused.exit_code == 1
    assert "№ 3" in refused.output and "запрещено" in refused.output
    assert _events_of(seeded, old) == before
    future = (NOW + timedelta(days=2)).date().isoformat()
    too_late = runner.invoke(args=["audit", "purge", "--before", future, "--confirm"])
    assert too_late.exit_code == 1 and "будущем" in too_late.output
    bad = runner.invoke(args=["audit", "purge", "--before", "скоро"])
    assert bad.exit_code == 2
    missing = runner.invoke(args=["audit", "purge", "--confirm"])
    assert missing.exit_code == 2
