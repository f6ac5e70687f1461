"""Org units: listing; the all-or-nothing CSV import lives in org_import (re-exported here)."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import OrgUnit
from .org_import import ImportReport, import_csv

__all__ = ["ImportReport", "import_csv", "list_units"]


def list_units() -> list[OrgUnit]:
    """All open org units, parents before children."""
    units = (
        db.session.execute(select(OrgUnit).where(OrgUnit.closed_at.is_(None)).order_by(OrgUnit.id))
        .scalars()
        .all()
    )
    return list(units)
