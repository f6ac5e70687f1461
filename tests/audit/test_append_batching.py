"""Events of a transaction are chained at its commit: one lock, one INSERT, one head UPDATE."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import AuditEvent, AuditHead, User
from app.services import audit
from app.services.uow import transaction


def _admin() -> User:
    return db.session.execute(select(User).where(User.username == "admin")).scalar_one()


@contextmanager
def _statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _head() -> tuple[int, str]:
    head = db.session.execute(select(AuditHead.last_seq, AuditHead.last_hash)).one()
    return int(head[0]), str(head[1])


def test_events_are_chained_at_commit_in_one_append(seeded: Flask) -> None:
    with seeded.app_context():
        admin = _admin()
        before_seq, _ = _head()
        db.session.commit()
        with _statements(seeded) as seen, transaction():
            events = [
                audit.record("comment_added", admin, payload={"note": f"n{i}"}) for i in range(5)
            ]
            assert all(e.seq is None for e in events)  # waiting in the session
            assert audit.has_pending()
        assert [e.seq for e in events] == list(range(before_seq + 1, before_seq + 6))
        audit_sql = [s for s in seen if "audit_" in s]
        locks = [s for s in audit_sql if s.startswith("SELECT") and "FOR UPDATE" in s.upper()]
        inserts = [s for s in audit_sql if s.startswith("INSERT INTO audit_event")]
        updates = [s for s in audit_sql if s.startswith("UPDATE audit_head")]
        if db.engine.dialect.name == "postgresql":
            assert len(locks) == 1, audit_sql
        assert len(inserts) == 1 and len(updates) == 1, audit_sql
        assert _head()[0] == before_seq + 5
        assert audit.verify()["ok"]
        assert not audit.has_pending()


def test_a_rollback_drops_the_waiting_events(seeded: Flask) -> None:
    with seeded.app_context():
        admin = _admin()
        before = _head()
        count = db.session.execute(select(func.count(AuditEvent.seq))).scalar_one()
        with pytest.raises(RuntimeError), transaction():
            audit.record("comment_added", admin, payload={"note": "lost"})
            raise RuntimeError("use case failed")
        assert not audit.has_pending()
        with transaction():
            audit.record("comment_added", admin, payload={"note": "kept"})
        assert _head()[0] == before[0] + 1
        assert db.session.execute(select(func.count(AuditEvent.seq))).scalar_one() == count + 1
        assert audit.verify()["ok"]


def test_a_transaction_holding_the_lock_gets_seq_at_once(seeded: Flask) -> None:
    """The retention purge locks the head first and reads its checkpoint's seq before commit."""
    with seeded.app_context():
        admin = _admin()
        with transaction():
            audit.record("comment_added", admin, payload={"note": "queued first"})
            db.session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update())
            checkpoint = audit.record("comment_added", admin, payload={"note": "at once"})
            seq = checkpoint.seq
            assert seq is not None
        last = db.session.execute(
            select(AuditEvent.seq, AuditEvent.payload).order_by(AuditEvent.seq.desc()).limit(2)
        ).all()
        assert [row[1]["note"] for row in last] == ["at once", "queued first"]
        assert last[0][0] == seq
        assert audit.verify()["ok"]
