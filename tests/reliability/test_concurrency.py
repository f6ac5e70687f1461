"""Many clients acting on the same task at the same moment, against gunicorn with 4 workers
and PostgreSQL: exactly one wins, the others get 409, nothing is applied twice or lost."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.factories import mo_plan
from tests.reliability.conftest import requires_postgres
from tests.reliability.live import LIVE_PASSWORD, LiveServer

pytestmark = requires_postgres

SCHOOL = "gatchina-school-1"
CLIENTS = 20
ROUNDS = 3
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "reliability"


def run_at_once(actions: list[Callable[[], Any]]) -> list[Any]:
    """Run every action in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except Exception as exc:  # reported by the assertion on results
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


@pytest.fixture(scope="module")
def colleagues(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """CLIENTS holders of mo_head at the school (the demo user and imported colleagues)."""
    csv = tmp_path_factory.mktemp("csv") / "mo_heads.csv"
    rows = ["username,full_name,email,password,role,org_unit_slug"]
    names = [f"mo_head.{SCHOOL}"]
    for i in range(1, CLIENTS):
        names.append(f"mo_head_{i:02d}.{SCHOOL}")
        rows.append(f"{names[-1]},Руководитель МО {i},,{LIVE_PASSWORD},mo_head,{SCHOOL}")
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = live.flask("org", "import", str(csv))
    assert result.returncode == 0, result.stderr
    return {name: live.http.token(name) for name in names}


def _school_id(live: LiveServer, token: str) -> int:
    status, units = live.http.get("/org-units", token)
    assert status == 200
    return next(u["id"] for u in units if u["slug"] == SCHOOL)


def _start_mo_plan(live: LiveServer, token: str) -> dict[str, Any]:
    body = {"process_key": "mo_plan_approval", "org_unit_id": _school_id(live, token)}
    status, instance = live.http.post("/instances", token, body)
    assert status == 201, instance
    return instance


def _events(live: LiveServer, auditor: str, instance_id: int) -> list[dict[str, Any]]:
    status, events = live.http.get(f"/instances/{instance_id}/history", auditor)
    assert status == 200
    return events


def _assert_chain_ok(live: LiveServer) -> None:
    status, verdict = live.http.get("/audit/verify", live.http.token("auditor"))
    assert status == 200 and verdict["ok"] is True, verdict


def test_twenty_clients_complete_the_same_task(
    live: LiveServer, colleagues: dict[str, str]
) -> None:
    auditor = live.http.token("auditor")
    for round_no in range(ROUNDS):
        instance = _start_mo_plan(live, colleagues[f"mo_head.{SCHOOL}"])
        task_id = instance["tasks"][0]["id"]
        names = list(colleagues)
        actions = [
            (
                lambda name=name: live.http.post(
                    f"/tasks/{task_id}/complete",
                    colleagues[name],
                    {"data": mo_plan(theme=f"Тема от {name}")},
                )
            )
            for name in names
        ]
        results = run_at_once(actions)
        statuses = Counter(r[0] if isinstance(r, tuple) else repr(r) for r in results)
        assert statuses == {200: 1, 409: CLIENTS - 1}, (round_no, statuses)
        winner = names[next(i for i, r in enumerate(results) if r[0] == 200)]
        for status, body in results:
            if status == 409:
                assert body["message"], body

        events = _events(live, auditor, instance["id"])
        completed = [e for e in events if e["kind"] == "task_completed"]
        assert len(completed) == 1
        assert completed[0]["actor"] == winner
        assert completed[0]["payload"]["data"]["theme"] == f"Тема от {winner}"
        offered = [e["payload"]["bpmn_id"] for e in events if e["kind"] == "task_offered"]
        assert offered == ["Task_draft", "Task_council_review"]  # advanced exactly once
        status, now = live.http.get(f"/instances/{instance['id']}", auditor)
        assert status == 200
        assert [t["bpmn_id"] for t in now["tasks"]] == ["Task_council_review"]
        engine = create_engine(live.database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT bpmn_id, status FROM human_task WHERE instance_id = :i ORDER BY id"),
                {"i": instance["id"]},
            ).all()
        engine.dispose()
        assert [tuple(r) for r in rows] == [
            ("Task_draft", "completed"),
            ("Task_council_review", "open"),
        ]
    _assert_chain_ok(live)


def test_twenty_clients_claim_the_same_task(live: LiveServer, colleagues: dict[str, str]) -> None:
    auditor = live.http.token("auditor")
    for round_no in range(ROUNDS):
        instance = _start_mo_plan(live, colleagues[f"mo_head.{SCHOOL}"])
        task_id = instance["tasks"][0]["id"]
        names = list(colleagues)
        actions = [
            (lambda name=name: live.http.post(f"/tasks/{task_id}/claim", colleagues[name]))
            for name in names
        ]
        results = run_at_once(actions)
        statuses = Counter(r[0] if isinstance(r, tuple) else repr(r) for r in results)
        assert statuses == {200: 1, 409: CLIENTS - 1}, (round_no, statuses)
        winner = names[next(i for i, r in enumerate(results) if r[0] == 200)]
        assert next(r[1] for r in results if r[0] == 200)["claimed_by"] == winner

        events = _events(live, auditor, instance["id"])
        claims = [e for e in events if e["kind"] == "task_claimed"]
        assert [e["actor"] for e in claims] == [winner]
        status, now = live.http.get(f"/instances/{instance['id']}", auditor)
        assert now["tasks"][0]["claimed_by"] == winner
        # The loser may not complete the task the winner holds; the winner may.
        loser = next(n for n in names if n != winner)
        status, _ = live.http.post(
            f"/tasks/{task_id}/complete", colleagues[loser], {"data": mo_plan()}
        )
        assert status == 403
        status, _ = live.http.post(
            f"/tasks/{task_id}/complete", colleagues[winner], {"data": mo_plan()}
        )
        assert status == 200
    _assert_chain_ok(live)


PARALLEL_INSTANCES = 12


def test_parallel_branches_completed_at_the_same_moment_both_land(live: LiveServer) -> None:
    """The branch that loses the optimistic lock is retried by the service, not refused:
    both completions return 200 and the join sees both branches' data."""
    designer = live.http.token("designer")
    files = [("parallel_review.bpmn", (DATA_DIR / "parallel_review.bpmn").read_bytes())]
    files += [
        (p.name, p.read_bytes()) for p in sorted((DATA_DIR / "reliability_parallel").glob("*"))
    ]
    status, deployed = live.http.post_files("/processes", designer, files)
    assert status == 201, deployed
    assert deployed["key"] == "reliability_parallel"

    director = live.http.token(f"director.{SCHOOL}")
    council = live.http.token(f"methodical_council.{SCHOOL}")
    deputy = live.http.token(f"deputy_director.{SCHOOL}")
    auditor = live.http.token("auditor")
    retries_before = live.log_text().count("concurrent update")
    school = _school_id(live, director)
    for n in range(PARALLEL_INSTANCES):
        status, instance = live.http.post(
            "/instances", director, {"process_key": "reliability_parallel", "org_unit_id": school}
        )
        assert status == 201, instance
        by_bpmn = {t["bpmn_id"]: t["id"] for t in instance["tasks"]}
        assert set(by_bpmn) == {"review_council", "review_deputy"}
        council_note = f"Совет: замечаний нет ({n})"
        deputy_note = f"Заместитель: согласовано ({n})"
        results = run_at_once(
            [
                lambda: live.http.post(
                    f"/tasks/{by_bpmn['review_council']}/complete",
                    council,
                    {"data": {"council_note": council_note}},
                ),
                lambda: live.http.post(
                    f"/tasks/{by_bpmn['review_deputy']}/complete",
                    deputy,
                    {"data": {"deputy_note": deputy_note}},
                ),
            ]
        )
        assert [r[0] for r in results] == [200, 200], results

        status, now = live.http.get(f"/instances/{instance['id']}", auditor)
        assert [t["bpmn_id"] for t in now["tasks"]] == ["final"], now
        status, final = live.http.get(f"/tasks/{now['tasks'][0]['id']}", director)
        assert status == 200
        assert final["data"]["council_note"] == council_note
        assert final["data"]["deputy_note"] == deputy_note
        events = _events(live, auditor, instance["id"])
        completed = sorted(e["payload"]["bpmn_id"] for e in events if e["kind"] == "task_completed")
        assert completed == ["review_council", "review_deputy"]
        offered = [e["payload"]["bpmn_id"] for e in events if e["kind"] == "task_offered"]
        assert offered.count("final") == 1

        status, done = live.http.post(
            f"/tasks/{now['tasks'][0]['id']}/complete",
            director,
            {"data": {"final_decision": "approve"}},
        )
        assert status == 200 and done["instance"]["status"] == "completed"
    retries = live.log_text().count("concurrent update") - retries_before
    print(f"parallel branches: {PARALLEL_INSTANCES} races, {retries} service retries")
    _assert_chain_ok(live)
