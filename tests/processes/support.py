"""Helpers for process tests: drive an instance through the API, check offers, fire timers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module
from flask import Flask

from app.models.base import utcnow
from app.services import timers
from tests.conftest import ApiClient

# Reads by the auditor leave access records; they are not steps of the process.
NOT_STEPS = {"personal_data_viewed"}


class Clock:
    """The engine's clock, moved forward by tests (real time plus an offset)."""

    offset = timedelta()

    def move(self, **delta: float) -> datetime:
        """Move the clock forward; returns the new 'now'."""
        Clock.offset += timedelta(**delta)
        return self.now()

    def now(self) -> datetime:
        """The moved 'now' (aware, UTC)."""
        return utcnow() + Clock.offset


class _ShiftedDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:  # noqa: D102
        return datetime.now(tz) + Clock.offset


def shifted_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Timers see a clock the test moves; everything else keeps real time."""
    Clock.offset = timedelta()
    monkeypatch.setattr(timer_module, "datetime", _ShiftedDatetime)
    yield Clock()
    Clock.offset = timedelta()


def fire_due_timers(app: Flask, clock: Clock) -> timers.AdvanceReport:
    """Run the timer job as the job runner would, at the test clock's 'now'."""
    with app.app_context():
        return timers.advance_due_instances(now=clock.now())


class Flow:
    """One process instance driven through the REST API, with the checks every step needs."""

    def __init__(self, api: ApiClient, process_key: str) -> None:
        self.api = api
        self.process_key = process_key
        self.id = 0
        self.view: dict[str, Any] = {}

    # --- starting and reading -----------------------------------------------------------------

    def start(self, user: str, unit_slug: str, data: dict[str, Any]) -> Flow:
        """Start the process at the unit as user (201 expected)."""
        resp = self.api.post(
            "/instances",
            user,
            json={
                "process_key": self.process_key,
                "org_unit_id": self.api.unit_id(unit_slug),
                "data": data,
            },
        )
        assert resp.status_code == 201, resp.get_json()
        self.view = resp.get_json()
        self.id = self.view["id"]
        return self

    def refresh(self) -> dict[str, Any]:
        """The instance as the API shows it to an auditor."""
        resp = self.api.get(f"/instances/{self.id}", "auditor")
        assert resp.status_code == 200, resp.get_json()
        self.view = resp.get_json()
        return self.view

    @property
    def status(self) -> str:
        """The instance status after the last step."""
        return str(self.view["status"])

    def open_tasks(self) -> list[str]:
        """BPMN ids of the open tasks, sorted."""
        return sorted(t["bpmn_id"] for t in self.view["tasks"])

    def task(self, bpmn_id: str) -> dict[str, Any]:
        """The single open task with this BPMN id."""
        found = [t for t in self.view["tasks"] if t["bpmn_id"] == bpmn_id]
        assert len(found) == 1, (bpmn_id, self.open_tasks())
        return found[0]

    def history(self) -> list[dict[str, Any]]:
        """Audit events of the instance, oldest first, without access records."""
        events = self.api.get(f"/instances/{self.id}/history", "auditor").get_json()
        return [e for e in events if e["kind"] not in NOT_STEPS]

    def kinds(self) -> list[str]:
        """Kinds of the audit events, in order."""
        return [e["kind"] for e in self.history()]

    def offered(self, task_id: int) -> list[str]:
        """Who the task was offered to (the task_offered event)."""
        offers = [
            e for e in self.history() if e["kind"] == "task_offered" and e["task_id"] == task_id
        ]
        assert len(offers) == 1, offers
        return list(offers[0]["payload"]["offered_to"])

    def final_data(self) -> dict[str, Any]:
        """The process data recorded when the instance completed."""
        done = [e for e in self.history() if e["kind"] == "instance_completed"]
        assert len(done) == 1
        return dict(done[0]["payload"]["data"])

    def task_data(self, bpmn_id: str, user: str) -> dict[str, Any]:
        """The data an open task shows to user."""
        resp = self.api.get(f"/tasks/{self.task(bpmn_id)['id']}", user)
        assert resp.status_code == 200, resp.get_json()
        return dict(resp.get_json()["data"])

    def notifications(self) -> list[dict[str, Any]]:
        """Payloads of notify service calls (notification_sent events)."""
        return [e["payload"] for e in self.history() if e["kind"] == "notification_sent"]

    # --- acting -------------------------------------------------------------------------------

    def complete(self, bpmn_id: str, user: str, data: dict[str, Any]) -> Flow:
        """Complete the open task as user, checking it was offered to user and nobody else."""
        task = self.task(bpmn_id)
        assert self.offered(task["id"]) == [user], (bpmn_id, self.offered(task["id"]))
        inbox = self.api.get("/tasks?scope=mine", user).get_json()
        assert task["id"] in [t["id"] for t in inbox["items"]], (bpmn_id, user)
        resp = self.api.post(f"/tasks/{task['id']}/complete", user, json={"data": data})
        assert resp.status_code == 200, resp.get_json()
        self.view = resp.get_json()["instance"]
        return self

    def refused(self, bpmn_id: str, user: str, data: dict[str, Any]) -> dict[str, Any]:
        """Try to complete with invalid data: 422 and the task stays open."""
        task = self.task(bpmn_id)
        resp = self.api.post(f"/tasks/{task['id']}/complete", user, json={"data": data})
        assert resp.status_code == 422, resp.get_json()
        self.refresh()
        assert bpmn_id in self.open_tasks()
        return dict(resp.get_json()["errors"])

    # --- documents ----------------------------------------------------------------------------

    def documents(self) -> list[dict[str, Any]]:
        """document_generated events whose file downloads with the recorded SHA-256."""
        generated = [e["payload"] for e in self.history() if e["kind"] == "document_generated"]
        for event in generated:
            resp = self.api.get(f"/attachments/{event['attachment_id']}/download", "auditor")
            assert resp.status_code == 200
            assert hashlib.sha256(resp.data).hexdigest() == event["sha256"]
            assert resp.headers["X-Content-SHA256"] == event["sha256"]
            assert resp.data[:2] == b"PK"  # a DOCX is a zip container
        return generated

    def download(self, attachment_id: int) -> bytes:
        """The content of an attachment."""
        resp = self.api.get(f"/attachments/{attachment_id}/download", "auditor")
        assert resp.status_code == 200
        return bytes(resp.data)


def docx_text(content: bytes) -> str:
    """All paragraph and table text of a DOCX, one line per paragraph or cell."""
    import io

    from docx import Document

    document = Document(io.BytesIO(content))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.extend(cell.text for cell in row.cells)
    return "\n".join(lines)


def verify_audit_chain(api: ApiClient) -> None:
    """The hash chain of the audit log is intact."""
    assert api.get("/audit/verify", "auditor").get_json()["ok"] is True
