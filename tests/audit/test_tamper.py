"""Tamper evidence: edits made directly in the database are found, with the first bad seq;
and the application itself never updates or deletes an audit event."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import AuditEvent
from app.services import audit
from tests.audit.helpers import run_plan
from tests.conftest import ROOT, ApiClient


def _set_seq(old: int, new: int) -> None:
    db.session.execute(update(AuditEvent).where(AuditEvent.seq == old).values(seq=new))


def _swap(a: int, b: int) -> None:
    _set_seq(a, -1)
    _set_seq(b, a)
    _set_seq(-1, b)


def _move_time(seq: int) -> None:
    event = db.session.get(AuditEvent, seq)
    assert event is not None
    event.occurred_at = event.occurred_at - timedelta(hours=1)


def _forge_payload_and_rehash(seq: int) -> None:
    event = db.session.get(AuditEvent, seq)
    assert event is not None
    event.payload = {**event.payload, "data": {"forged": True}}
    event.hash = audit.event_hash(event)


TAMPERING: dict[str, tuple[Callable[[], None], int, str]] = {
    "payload edited": (
        lambda: db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == 6).values(payload={"forged": True})
        ),
        6,
        "hash",
    ),
    "event deleted in the middle": (
        lambda: db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 7)),
        7,
        "missing",
    ),
    "hash changed": (
        lambda: db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == 5).values(hash="f" * 64)
        ),
        5,
        "hash",
    ),
    "two events swapped (reordered seq)": (lambda: _swap(8, 9), 8, "link"),
    "payload edited and its hash recomputed": (lambda: _forge_payload_and_rehash(6), 7, "link"),
    "actor rewritten": (
        lambda: db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == 9).values(actor_username="admin")
        ),
        9,
        "hash",
    ),
    "time moved": (lambda: _move_time(4), 4, "hash"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_verification_names_the_first_broken_seq(api: ApiClient, seeded: Flask, case: str) -> None:
    run_plan(api, "gatchina-school-1")
    with seeded.app_context():
        before = audit.verify()
        assert before["ok"] and before["checked"] > 10, before
        tamper, first_bad, reason = TAMPERING[case]
        tamper()
        db.session.commit()
        db.session.expire_all()
        result = audit.verify()
    assert result["ok"] is False
    assert result["first_bad_seq"] == first_bad, result
    assert result["reason"] == reason, result
    assert result["checked"] == first_bad - 1
    api_result = api.get("/audit/verify", "auditor").get_json()
    assert api_result == result
    cli = seeded.test_cli_runner().invoke(args=["audit", "verify"])
    assert cli.exit_code == 1
    assert f"№ {first_bad}" in cli.output


def test_deleting_the_newest_events_is_found_by_the_head(api: ApiClient, seeded: Flask) -> None:
    run_plan(api, "gatchina-school-1", finish=False)
    with seeded.app_context():
        last = db.session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())).scalar()
        assert last is not None
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq >= last - 1))
        db.session.commit()
        result = audit.verify()
    assert result == {
        "ok": False,
        "checked": last - 2,
        "first_bad_seq": last - 1,
        "reason": "missing",
    }


def test_intact_chain_verifies(api: ApiClient, seeded: Flask) -> None:
    run_plan(api, "gatchina-school-1")
    result = api.get("/audit/verify", "auditor").get_json()
    assert result["ok"] is True and result["first_bad_seq"] is None and result["checked"] > 10
    cli = seeded.test_cli_runner().invoke(args=["audit", "verify"])
    assert cli.exit_code == 0 and f"проверено событий {result['checked']}" in cli.output


# What a write to audit_event looks like in code: ORM/Core update() or delete() of the model
# or its table, session.delete of an event, or raw SQL.
_WRITES = [
    re.compile(r"\b(update|delete)\(\s*AuditEvent\b"),
    re.compile(r"AuditEvent\.__table__\.(update|delete)\("),
    re.compile(r"(?i)\b(UPDATE|DELETE\s+FROM)\s+\"?audit_event\b"),
    re.compile(r"\.query\(\s*AuditEvent\s*\)[^\n]*\.(update|delete)\("),
]
_ALLOWED = {Path("app/services/retention.py")}  # the audited retention purge


def test_application_never_updates_or_deletes_audit_events() -> None:
    offenders: list[str] = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        relative = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8")
        for pattern in _WRITES:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                if relative not in _ALLOWED:
                    offenders.append(f"{relative}:{line}: {match.group(0)}")
    assert offenders == [], "audit events are append-only:\n" + "\n".join(offenders)
    # the allowed purge really is the one place, and the pattern does find it
    purge_source = (ROOT / "app/services/retention.py").read_text(encoding="utf-8")
    assert any(p.search(purge_source) for p in _WRITES)


def test_the_audit_event_model_has_no_update_path(seeded: Flask) -> None:
    """The event kinds of the log are appended through audit.record only."""
    recorders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"(?<!class )\bAuditEvent\(", text):
            recorders.append(str(path.relative_to(ROOT)))
    assert recorders == ["app/services/audit.py"]
