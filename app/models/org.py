"""Organisation units, users, role grants and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, false, inspect, select
from sqlalchemy.orm import InstanceState, Mapped, Session, aliased, mapped_column, relationship

from ..extensions import db
from .base import UtcDateTime, utcnow

TIERS = ("region", "municipality", "institution")


class OrgUnit(db.Model):  # type: ignore[name-defined]
    """A unit of the region's tree: the region, a municipality or a school."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    tier: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def ancestors(self) -> list[OrgUnit]:
        """This unit and its parents up to the root, nearest first.

        The parents are read with one query; walking `parent` then finds them in the
        session instead of asking the database once per tier.
        """
        state: InstanceState[OrgUnit] = inspect(self)
        loaded = []  # held here: the session's identity map keeps objects only weakly
        if self.parent_id is not None and state.session is not None and "parent" in state.unloaded:
            loaded = _load_chain(state.session, self.parent_id)
        chain: list[OrgUnit] = []
        unit: OrgUnit | None = self
        while unit is not None and unit not in chain:
            chain.append(unit)
            unit = unit.parent
        del loaded
        return chain


def _load_chain(session: Session, unit_id: int) -> list[OrgUnit]:
    """Load a unit, its parent and its grandparent into the session in one statement.

    The tree has three tiers, so that is the whole chain; a deeper tree would load the rest
    on the walk, one parent at a time. (A plain join by primary key: on PostgreSQL it costs
    a fraction of a recursive query.)
    """
    parent = aliased(OrgUnit)
    grandparent = aliased(OrgUnit)
    row = session.execute(
        select(OrgUnit, parent, grandparent)
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .outerjoin(grandparent, grandparent.id == parent.parent_id)
        .where(OrgUnit.id == unit_id)
    ).first()
    return [unit for unit in row or () if unit is not None]


class User(db.Model):  # type: ignore[name-defined]
    """A person who logs in; never deleted, only deactivated."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    full_name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str | None] = mapped_column(String(300))
    password_hash: Mapped[str] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # 'local': Argon2 password here; 'ldap': the password is checked by the directory.
    auth_source: Mapped[str] = mapped_column(String(10), default="local", server_default="local")
    # No usable password yet (imported or reset): set once with a one-time setup token.
    must_set_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    password_setup_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    password_setup_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", foreign_keys="RoleGrant.user_id"
    )


class RoleGrant(db.Model):  # type: ignore[name-defined]
    """A role held by a user at an org unit, for a period."""

    __tablename__ = "role_grant"
    __table_args__ = (Index("ix_role_grant_role_unit", "role", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    role: Mapped[str] = mapped_column(String(50))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    source_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    org_unit: Mapped[OrgUnit] = relationship()

    def is_valid_at(self, moment: datetime) -> bool:
        """True when the grant is in force at the given moment."""
        if self.valid_from is not None and moment < self.valid_from:
            return False
        return self.valid_to is None or moment < self.valid_to


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    user: Mapped[User] = relationship()
