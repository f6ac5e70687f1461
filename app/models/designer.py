"""Drafts of process diagrams and forms edited in the browser before they are deployed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UtcDateTime, utcnow
from .org import User


class ProcessDraft(db.Model):  # type: ignore[name-defined]
    """One working copy per process key: files {name: xml} and forms {path: JSON text}."""

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    forms: Mapped[dict[str, str]] = mapped_column(JSON)
    base_version: Mapped[int | None] = mapped_column()
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    updated_by: Mapped[User | None] = relationship()
