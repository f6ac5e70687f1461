"""E-mail of notifications over SMTP: the outbox run and the daily digests."""

from __future__ import annotations

import hashlib
import logging
import smtplib
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...models import Notification, NotificationPreference, User
from ...models import notification as states
from ...models.base import utcnow
from ..calendar import deadline_zone
from ..uow import transaction

log = logging.getLogger(__name__)

MAX_EMAIL_ATTEMPTS = 5


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class _Mailer:
    """One SMTP connection per delivery run, opened on the first message."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            smtp = smtplib.SMTP(self.config["SMTP_HOST"], int(self.config["SMTP_PORT"]), timeout=15)
            if self.config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if self.config.get("SMTP_USER"):
                smtp.login(self.config["SMTP_USER"], self.config.get("SMTP_PASSWORD", ""))
            self.smtp = smtp
        self.smtp.send_message(message)

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def _email(to: User, subject: str, body: str, message_key: str) -> EmailMessage:
    config = current_app.config
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config["SMTP_FROM"]
    msg["To"] = str(to.email)
    msg["Date"] = formatdate(localtime=False)
    domain = str(config["SMTP_FROM"]).rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{hashlib.sha256(message_key.encode()).hexdigest()[:32]}@{domain}>"
    link = config.get("PUBLIC_BASE_URL") or ""
    footer = "\n\n--\nСообщение системы процессов РСНМС. Способ уведомления можно изменить "
    footer += "в настройках уведомлений" + (f": {link}" if link else ".")
    msg.set_content(f"Здравствуйте, {to.full_name or to.username}!\n\n{body}{footer}\n")
    return msg


def deliver_pending_emails(limit: int = 100) -> DeliveryReport:
    """Send pending e-mails one row per transaction (rows locked with SKIP LOCKED on PostgreSQL).

    At least once: a crash between the SMTP answer and the commit sends that one e-mail again.
    """
    report = DeliveryReport()
    if not current_app.config.get("SMTP_HOST"):
        return report
    mailer = _Mailer(dict(current_app.config))
    seen: list[int] = [0]
    try:
        for _ in range(limit):
            with transaction():
                row = db.session.execute(
                    select(Notification)
                    .where(
                        Notification.email_status == states.EMAIL_PENDING,
                        Notification.id.not_in(seen),
                    )
                    .order_by(Notification.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).scalar_one_or_none()
                if row is None:
                    break
                seen.append(row.id)
                stop = _send_one(mailer, row, report)
            if stop:
                break
    finally:
        mailer.close()
    return report


def _send_one(mailer: _Mailer, row: Notification, report: DeliveryReport) -> bool:
    """Send one notification's e-mail; True when the server is unreachable (stop the run)."""
    if not row.user.email:
        row.email_status = states.EMAIL_NO_ADDRESS
        return False
    try:
        mailer.send(_email(row.user, row.title, row.body, row.dedup_key))
    except (smtplib.SMTPException, OSError) as exc:
        row.email_attempts += 1
        row.email_error = str(exc)[:1000]
        if row.email_attempts >= MAX_EMAIL_ATTEMPTS:
            row.email_status = states.EMAIL_FAILED
        report.failed += 1
        report.errors.append(f"{row.id}: {exc}")
        log.warning("E-mail for notification %s failed: %s", row.id, exc)
        unreachable = isinstance(exc, OSError | smtplib.SMTPServerDisconnected)
        if unreachable:
            mailer.close()
        return unreachable
    row.email_status = states.EMAIL_SENT
    row.emailed_at = utcnow()
    report.sent += 1
    return False


def send_daily_digests(now: datetime | None = None) -> DeliveryReport:
    """Once a day after DIGEST_HOUR (local time), one e-mail per user with their digest items."""
    report = DeliveryReport()
    config = current_app.config
    if not config.get("SMTP_HOST"):
        return report
    local = (now or utcnow()).astimezone(deadline_zone())
    if local.hour < int(config.get("DIGEST_HOUR", 8)):
        return report
    today = local.date()
    user_ids = list(
        db.session.execute(
            select(Notification.user_id)
            .where(Notification.email_status == states.EMAIL_DIGEST)
            .distinct()
        ).scalars()
    )
    mailer = _Mailer(dict(config))
    try:
        for user_id in user_ids:
            try:
                with transaction():
                    _digest_for(mailer, user_id, today, report)
            except (smtplib.SMTPException, OSError) as exc:
                mailer.close()
                report.failed += 1
                report.errors.append(f"digest {user_id}: {exc}")
                log.warning("Digest for user %s failed: %s", user_id, exc)
    finally:
        mailer.close()
    return report


def _digest_for(mailer: _Mailer, user_id: int, today: date, report: DeliveryReport) -> None:
    pref = db.session.execute(
        select(NotificationPreference)
        .where(NotificationPreference.user_id == user_id)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if pref is None or (pref.last_digest_on is not None and pref.last_digest_on >= today):
        return
    items = list(
        db.session.execute(
            select(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.email_status == states.EMAIL_DIGEST,
            )
            .order_by(Notification.id)
        ).scalars()
    )
    if not items:
        return
    user = items[0].user
    if not user.email:
        for item in items:
            item.email_status = states.EMAIL_NO_ADDRESS
        return
    lines = [f"{i + 1}. {item.title}\n   {item.body}" for i, item in enumerate(items)]
    body = f"Уведомления за сутки ({len(items)}):\n\n" + "\n\n".join(lines)
    subject = f"Сводка уведомлений РСНМС за {today:%d.%m.%Y}"
    mailer.send(_email(user, subject, body, f"digest:{user_id}:{today.isoformat()}"))
    moment = utcnow()
    for item in items:
        item.email_status = states.EMAIL_SENT
        item.emailed_at = moment
    pref.last_digest_on = today
    report.sent += 1
