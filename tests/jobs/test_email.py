"""E-mail through SMTP, checked at a real local SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.models import notification as states
from app.services import notifications, timers
from app.services.notifications import mail as outbox
from app.services.uow import transaction

from .support import T0, open_tasks, start, user

SLOW = {"prepare_due_in": "P3D", "remind_after": "P20D", "escalate_after": "P30D"}


def _give_emails(*usernames: str) -> None:
    with transaction():
        for name in usernames:
            user(name).email = f"{name.replace('.', '-')}@example.test"


def _statuses(kind: str) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(Notification.email_status).where(Notification.kind == kind)
        ).scalars()
    )


def test_task_offer_and_reminder_are_mailed(smtp) -> None:
    _give_emails("mms_methodist.gatchina")
    with time_machine.travel(T0, tick=False):
        start("test_escalation", SLOW)
    assert _statuses("task_offered") == [states.EMAIL_PENDING]
    report = outbox.deliver_pending_emails()
    assert (report.sent, report.failed) == (1, 0)
    [mail] = smtp.mailbox.to("mms_methodist-gatchina@example.test")
    assert mail["Subject"] == "Новая задача: Подготовка документа"
    assert mail["From"] == "rsnms@example.test"
    text = mail.get_content()
    assert "Задача «Подготовка документа» ожидает выполнения" in text
    assert "Срок: 05.03.2026 12:00 (MSK)" in text
    assert "Тест: срок, напоминание и эскалация — Гатчинский муниципальный округ" in text
    assert _statuses("task_offered") == [states.EMAIL_SENT]
    # Nothing is sent twice.
    assert outbox.deliver_pending_emails().sent == 0
    assert len(smtp.mailbox.messages) == 1
    with time_machine.travel(T0 + timedelta(days=2, hours=1), tick=False):
        timers.send_due_reminders()
    outbox.deliver_pending_emails()
    subjects = [m["Subject"] for m in smtp.mailbox.to("mms_methodist-gatchina@example.test")]
    assert subjects == [
        "Новая задача: Подготовка документа",
        "Приближается срок: Подготовка документа",
    ]


def test_in_app_only_sends_no_email(smtp) -> None:
    _give_emails("mms_methodist.gatchina")
    notifications.update_preferences(user("mms_methodist.gatchina"), "in_app", False)
    with time_machine.travel(T0, tick=False):
        start("test_escalation", SLOW)
    assert _statuses("task_offered") == [states.EMAIL_NONE]
    assert outbox.deliver_pending_emails().sent == 0
    assert smtp.mailbox.messages == []


def test_user_without_address_gets_in_app_only(smtp) -> None:
    with time_machine.travel(T0, tick=False):
        start("test_escalation", SLOW)
    assert _statuses("task_offered") == [states.EMAIL_NO_ADDRESS]
    assert outbox.deliver_pending_emails().sent == 0


def test_daily_digest_collects_messages_into_one_email(smtp) -> None:
    _give_emails("mms_methodist.gatchina")
    notifications.update_preferences(user("mms_methodist.gatchina"), "email", True)
    with time_machine.travel(T0, tick=False):
        start("test_escalation", SLOW)
        start("test_escalation", SLOW)
    assert _statuses("task_offered") == [states.EMAIL_DIGEST] * 2
    assert outbox.deliver_pending_emails().sent == 0
    # 07:30 Moscow time: before DIGEST_HOUR (8), nothing yet.
    before = datetime(2026, 3, 3, 4, 30, tzinfo=UTC)
    assert outbox.send_daily_digests(before).sent == 0
    after = datetime(2026, 3, 3, 5, 30, tzinfo=UTC)
    assert outbox.send_daily_digests(after).sent == 1
    assert outbox.send_daily_digests(after + timedelta(hours=3)).sent == 0  # once a day
    [mail] = smtp.mailbox.messages
    assert mail[2]["Subject"] == "Сводка уведомлений РСНМС за 03.03.2026"
    text = mail[2].get_content()
    assert "Уведомления за сутки (2)" in text and text.count("Новая задача") == 2
    assert _statuses("task_offered") == [states.EMAIL_SENT] * 2


def test_smtp_down_keeps_mail_pending_and_retries(smtp) -> None:
    _give_emails("mms_methodist.gatchina")
    with time_machine.travel(T0, tick=False):
        instance = start("test_escalation", SLOW)
    smtp.stop()
    report = outbox.deliver_pending_emails()
    assert (report.sent, report.failed) == (0, 1)
    db.session.expire_all()
    row = db.session.execute(select(Notification)).scalar_one()
    assert row.email_status == states.EMAIL_PENDING and row.email_attempts == 1
    smtp.start()
    assert outbox.deliver_pending_emails().sent == 1
    assert len(smtp.mailbox.messages) == 1
    assert open_tasks(instance.id)  # the process was never affected by the mail server


def test_escalation_mail_reaches_the_head(smtp) -> None:
    _give_emails("mms_methodist.gatchina", "mms_head.gatchina")
    with time_machine.travel(T0, tick=False):
        start("test_escalation", SLOW | {"escalate_after": "P5D"})
    with time_machine.travel(T0 + timedelta(days=5, minutes=1), tick=False):
        assert len(timers.advance_due_instances().fired) == 1
    outbox.deliver_pending_emails()
    [mail] = smtp.mailbox.to("mms_head-gatchina@example.test")
    assert mail["Subject"] == "Новая задача: Решение по просроченной подготовке"
