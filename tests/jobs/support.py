"""Helpers for the job tests: starting test processes, reading state, a local SMTP server."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, HumanTask, OrgUnit, ProcessInstance, User
from app.services import deployment, instances

DATA = Path(__file__).resolve().parent.parent / "data" / "jobs"
# A Monday in 2026 with no holidays around it, 09:00 UTC (12:00 Moscow time).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def bundle() -> deployment.Bundle:
    """The test diagrams and their form."""
    return deployment.Bundle(
        sources={p.name: p.read_bytes() for p in sorted(DATA.glob("*.bpmn"))},
        forms={"test_jobs/task.json": (DATA / "forms" / "test_jobs" / "task.json").read_bytes()},
    )


def user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def unit(slug: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()


def start(
    key: str, data: dict[str, Any], slug: str = "gatchina", username: str | None = None
) -> ProcessInstance:
    """Start a test process as the municipality's methodist."""
    return instances.start_instance(
        user(username or f"mms_methodist.{slug}"), key, unit(slug).id, data
    )


def reload(instance_id: int) -> ProcessInstance:
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance_id)


def open_tasks(instance_id: int) -> list[HumanTask]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
            .order_by(HumanTask.id)
        ).scalars()
    )


def audit_kinds(instance_id: int) -> list[str]:
    return list(
        db.session.execute(
            select(AuditEvent.kind)
            .where(AuditEvent.instance_id == instance_id)
            .order_by(AuditEvent.seq)
        ).scalars()
    )


def count_events(kind: str, instance_id: int | None = None) -> int:
    query = select(func.count(AuditEvent.seq)).where(AuditEvent.kind == kind)
    if instance_id is not None:
        query = query.where(AuditEvent.instance_id == instance_id)
    return int(db.session.execute(query).scalar_one())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for _, rcpts, m in self.messages if address in rcpts]


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a fixed port; can be stopped and restarted."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, loop=asyncio.new_event_loop()
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller.loop.close()
            self.controller = None
