"""Dashboard figures on the hand-computed data set of dataset.py, and the scope rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from app.services import monitoring, monitoring_drill
from app.services.errors import NotAllowed
from app.services.monitoring_facts import SchoolYear

from . import dataset
from .dataset import NOW

YEAR = SchoolYear(2025)


@pytest.fixture()
def data(ctx: Flask) -> dict[str, int]:
    return dataset.load()


def _board(username: str, municipality: str | None = None) -> Any:
    muni = dataset.unit_id(municipality) if municipality else None
    return monitoring.dashboard(dataset.user(username), YEAR, muni, now=NOW)


def test_region_figures_computed_by_hand(data: dict[str, int]) -> None:
    board = _board("region_official.lenobl")
    rows = dataset.by_slug(board)
    g, luga = rows["gatchina"], rows["luga"]
    assert [m.slug for m in board.municipalities] == ["gatchina", "luga"]

    # Agreement: Гатчина registered, signed since 2025-10-05; Луга has one in progress.
    assert g.agreement is not None
    assert (g.agreement.instance_id, g.agreement.outcome, g.agreement.detail) == (
        data["A1"],
        "registered",
        "12",
    )
    assert g.agreement.since == datetime(2025, 10, 5, 12, tzinfo=UTC)
    assert (g.agreements_open, luga.agreement, luga.agreements_open) == (0, None, 1)

    # Roadmap: 4 measures, 2 past their deadline on 2026-03-15.
    assert g.roadmap is not None and g.roadmap.instance_id == data["R1"]
    assert g.roadmap.measures == {"management": 2, "professional_mastery": 1, "content_support": 1}
    assert g.roadmap.overdue == {"management": 1, "professional_mastery": 1, "content_support": 0}
    assert (g.roadmap.total, g.roadmap.total_overdue) == (4, 2)
    assert luga.roadmap is None

    # ММА: Гатчина 2 members working at 1 school, Луга 1 member at 1 school.
    assert (g.mma_members, g.mma_schools, luga.mma_members, luga.mma_schools) == (2, 1, 1, 1)

    # МО plans of 2025/2026: P1 approved and P2 open at school 1; P3 is of 2024/2025.
    assert (g.plans_approved, g.plans_open, g.schools_with_plan, len(g.schools)) == (1, 1, 1, 2)
    assert (luga.plans_approved, luga.plans_open, luga.schools_with_plan) == (1, 0, 1)

    # Attestation: T1 granted, T2 refused (Гатчина); T3 open (Луга).
    assert (g.attestation_open, g.attestation_granted, g.attestation_refused) == (0, 1, 1)
    assert (luga.attestation_open, luga.attestation_granted, luga.attestation_refused) == (1, 0, 0)

    # Overdue now: P2's draft (school 1) and A2's region review (Луга, municipal level).
    assert (g.overdue_tasks, luga.overdue_tasks) == (1, 1)

    s1, s2 = rows["gatchina-school-1"], rows["gatchina-school-2"]
    l1, l2 = rows["luga-school-1"], rows["luga-school-2"]
    assert (s1.plans_approved, s1.plans_open, s1.overdue_tasks, s1.mma_members) == (1, 1, 1, 2)
    assert (s2.plans_approved, s2.attestation_granted, s2.attestation_refused) == (0, 1, 1)
    assert (l1.plans_approved, l1.mma_members, l2.attestation_open) == (1, 1, 1)
    assert [s.status for s in (s1, s2, l1, l2)] == ["overdue", "none", "approved", "none"]

    totals = board.totals
    assert (totals.plans_approved, totals.attestation_open, totals.overdue_tasks) == (2, 1, 2)


def test_cycle_times_and_bottleneck(data: dict[str, int]) -> None:
    board = _board("cnppm_head.lenobl")
    cycles = {p.key: p for p in board.processes}
    assert (cycles["tripartite_agreement"].completed, cycles["tripartite_agreement"].buckets) == (
        1,
        [0, 0, 0, 1, 0, 0],
    )
    assert cycles["tripartite_agreement"].avg_days == pytest.approx(30.0)
    assert cycles["mo_plan_approval"].completed == 2  # P3 ended in the previous school year
    assert cycles["mo_plan_approval"].avg_days == pytest.approx(5.0)
    assert cycles["mo_plan_approval"].buckets == [1, 1, 0, 0, 0, 0]
    assert cycles["attestation_support"].avg_days == pytest.approx(80.0)
    assert cycles["attestation_support"].buckets == [0, 0, 0, 0, 1, 1]
    assert cycles["mma_selection"].completed == 1 and cycles["roadmap_approval"].completed == 1

    steps = {(s.process_key, s.bpmn_id): s for s in board.steps}
    council = steps[("mo_plan_approval", "Task_council_review")]
    draft = steps[("mo_plan_approval", "Task_draft")]
    approve = steps[("mo_plan_approval", "Task_approve_director")]
    assert (council.completed, council.avg_days, council.bottleneck) == (
        2,
        pytest.approx(3.0),
        True,
    )
    assert (draft.completed, draft.avg_days, draft.bottleneck) == (2, pytest.approx(1.0), False)
    assert (approve.completed, approve.avg_days) == (1, pytest.approx(2.0))


def test_previous_school_year(data: dict[str, int]) -> None:
    board = monitoring.dashboard(dataset.user("region_official.lenobl"), SchoolYear(2024), now=NOW)
    rows = dataset.by_slug(board)
    assert rows["gatchina-school-2"].plans_approved == 1
    assert rows["gatchina"].plans_approved == 1 and rows["luga"].plans_approved == 0
    # Agreements are "as of the end of that year": A1 was signed in October 2025.
    assert rows["gatchina"].agreement is None
    cycles = {p.key: p for p in board.processes}
    assert cycles["mo_plan_approval"].completed == 1
    assert cycles["mo_plan_approval"].avg_days == pytest.approx(30.0)


def test_director_sees_only_their_school(data: dict[str, int]) -> None:
    board = _board("director.gatchina-school-1")
    assert [m.slug for m in board.municipalities] == ["gatchina"]
    g = board.municipalities[0]
    assert not g.whole
    assert [s.slug for s in g.schools] == ["gatchina-school-1"]
    # Municipal procedures are outside a director's scope.
    assert (g.agreement, g.roadmap, g.agreements_open, g.mma_schools) == (None, None, 0, 0)
    assert (g.plans_approved, g.plans_open, g.overdue_tasks, g.mma_members) == (1, 1, 1, 2)
    assert (g.attestation_granted, g.attestation_refused) == (0, 0)  # those are at school 2
    cycles = {p.key: p for p in board.processes}
    assert cycles["mo_plan_approval"].completed == 1
    assert cycles["attestation_support"].completed == 0
    with pytest.raises(NotAllowed):
        _board("director.gatchina-school-1", "luga")
    with pytest.raises(NotAllowed):
        monitoring_drill.drill(
            dataset.user("director.gatchina-school-1"),
            "attestation_granted",
            YEAR,
            school_id=dataset.unit_id("gatchina-school-2"),
            now=NOW,
        )


@pytest.mark.parametrize("username", ["municipal_head.luga", "mms_head.luga"])
def test_municipal_roles_see_only_their_municipality(data: dict[str, int], username: str) -> None:
    board = _board(username)
    assert [m.slug for m in board.municipalities] == ["luga"]
    luga = board.municipalities[0]
    assert luga.whole and [s.slug for s in luga.schools] == ["luga-school-1", "luga-school-2"]
    assert (luga.agreements_open, luga.plans_approved, luga.overdue_tasks) == (1, 1, 1)
    assert {p.key: p.completed for p in board.processes}["attestation_support"] == 0
    with pytest.raises(NotAllowed):
        _board(username, "gatchina")


@pytest.mark.parametrize(
    "username",
    [
        "teacher.gatchina-school-1",
        "mo_head.gatchina-school-1",
        "mms_methodist.gatchina",
        "regional_methodist.lenobl",
        "auditor",
        "admin",
        "designer",
    ],
)
def test_other_roles_are_refused(data: dict[str, int], username: str) -> None:
    with pytest.raises(NotAllowed) as refused:
        _board(username)
    assert "Мониторинг доступен" in refused.value.message
    assert not monitoring.may_view(dataset.user(username))


def _drill(figure: str, user: str = "region_official.lenobl", **kw: Any) -> set[int]:
    result = monitoring_drill.drill(dataset.user(user), figure, YEAR, now=NOW, **kw)
    assert result.total == len(result.rows)
    return {row.id for row in result.rows}


def test_drill_down_lists_the_instances_behind_each_number(data: dict[str, int]) -> None:
    ids = data
    gatchina, luga = dataset.unit_id("gatchina"), dataset.unit_id("luga")
    assert _drill("plans_approved") == {ids["P1"], ids["P4"]}
    assert _drill("plans_approved", municipality_id=gatchina) == {ids["P1"]}
    assert _drill("plans_open", school_id=dataset.unit_id("gatchina-school-1")) == {ids["P2"]}
    assert _drill("overdue") == {ids["P2"], ids["A2"]}
    assert _drill("overdue", municipality_id=luga) == {ids["A2"]}
    assert _drill("agreement", municipality_id=gatchina) == {ids["A1"]}
    assert _drill("agreements_open") == {ids["A2"]}
    assert _drill("roadmap") == {ids["R1"]}
    assert _drill("mma_included") == {ids["M1"]}
    assert _drill("attestation_granted") == {ids["T1"]}
    assert _drill("attestation_refused") == {ids["T2"]}
    assert _drill("attestation_open") == {ids["T3"]}
    assert _drill("completed", process_key="attestation_support", bucket=5) == {ids["T1"]}
    assert _drill("completed", process_key="mo_plan_approval") == {ids["P1"], ids["P4"]}
    assert _drill("step", process_key="mo_plan_approval", step="Task_council_review") == {
        ids["P1"],
        ids["P4"],
    }
    # The director's drill-down is limited to their school, whatever the figure.
    assert _drill("overdue", user="director.gatchina-school-1") == {ids["P2"]}
    assert _drill("plans_approved", user="mms_head.luga") == {ids["P4"]}


def test_school_year_selector_lists_years_with_data(data: dict[str, int]) -> None:
    labels = [y.label for y in monitoring.available_years(NOW)]
    assert labels == ["2025/2026", "2024/2025"]
    assert SchoolYear.of(datetime(2025, 8, 31, 20, 59, tzinfo=UTC)).label == "2024/2025"
    # 1 September 00:00 in Moscow is 31 August 21:00 UTC.
    assert SchoolYear.of(datetime(2025, 8, 31, 21, 0, tzinfo=UTC)).label == "2025/2026"
    assert SchoolYear.parse("2025/2026") == SchoolYear(2025)
    assert SchoolYear.parse("2025/2027") is None
