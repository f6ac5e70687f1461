"""reads.at_once: independent reads on separate connections, in order, errors raised."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import parallel_reads as reads
from app.extensions import db
from app.models import OrgUnit, User


def _count_units() -> tuple[int, str]:
    return db.session.execute(select(func.count(OrgUnit.id))).scalar_one(), (
        threading.current_thread().name
    )


def test_results_come_back_in_order(ctx: Flask) -> None:
    units = db.session.execute(select(func.count(OrgUnit.id))).scalar_one()
    users = db.session.execute(select(func.count(User.id))).scalar_one()
    results = reads.at_once(
        lambda: db.session.execute(select(func.count(User.id))).scalar_one(),
        lambda: db.session.execute(select(func.count(OrgUnit.id))).scalar_one(),
        lambda: "plain",
    )
    assert results == [users, units, "plain"]


def test_where_the_steps_run(ctx: Flask) -> None:
    (count, thread), _ = reads.at_once(_count_units, _count_units)
    assert count == 7  # the demo tree
    main = threading.current_thread().name
    if db.engine.dialect.name == "postgresql":
        assert thread.startswith("rsnms-read")  # its own connection
    else:
        assert thread == main  # SQLite: one after the other in the caller's session


def test_uncommitted_changes_keep_the_reads_in_the_callers_session(ctx: Flask) -> None:
    region = db.session.execute(select(OrgUnit).where(OrgUnit.slug == "lenobl")).scalar_one()
    db.session.add(
        OrgUnit(slug="new-municipality", name="Новый", tier="municipality", parent=region)
    )
    ((count, thread),) = reads.at_once(lambda: (_count_units()[0] + 0, _count_units()[1]))
    assert count == 8  # the pending unit is seen (autoflush in the caller's session)
    assert thread == threading.current_thread().name
    db.session.rollback()


def test_an_error_of_a_step_is_raised(ctx: Flask) -> None:
    def broken() -> None:
        raise ValueError("сбой шага")

    with pytest.raises(ValueError, match="сбой шага"):
        reads.at_once(_count_units, broken)
