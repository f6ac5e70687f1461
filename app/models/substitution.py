"""Substitutions: while a user is away, another user is offered their tasks too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UtcDateTime, utcnow
from .org import User


class Substitution(db.Model):  # type: ignore[name-defined]
    """User `substitute` acts for user `away` from valid_from until valid_to (exclusive)."""

    __tablename__ = "substitution"
    __table_args__ = (
        Index("ix_substitution_substitute_period", "substitute_id", "valid_from", "valid_to"),
        Index("ix_substitution_away_period", "away_user_id", "valid_from", "valid_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    away_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    substitute_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_to: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    away_user: Mapped[User] = relationship(foreign_keys=[away_user_id])
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    def is_active_at(self, moment: datetime) -> bool:
        """True when the substitution is in force at the given moment."""
        return self.cancelled_at is None and self.valid_from <= moment and moment < self.valid_to
