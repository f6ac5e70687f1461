"""Signatures given to generated documents: who confirmed which document hash, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UtcDateTime, utcnow
from .documents import Attachment
from .org import User


class Signature(db.Model):  # type: ignore[name-defined]
    """A signer's confirmation of one generated document, bound to its SHA-256."""

    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachment.id"))
    document_key: Mapped[str] = mapped_column(String(100))
    document_sha256: Mapped[str] = mapped_column(String(64))
    signer_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    role: Mapped[str] = mapped_column(String(50))
    human_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    signer: Mapped[User] = relationship()
    attachment: Mapped[Attachment] = relationship()
