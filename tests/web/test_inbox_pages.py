"""The inbox: tabs and their counts, filters, sorting, pages, and a constant number of queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask

from app.extensions import db
from app.models import HumanTask
from app.models.base import utcnow
from tests.statements import recorded
from tests.web.conftest import SCHOOL, WebClient, start_plans

MO_HEAD = f"mo_head.{SCHOOL}"


def _counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def _task_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-task-id="(\d+)"', html)]


def test_tabs_counts_and_claiming(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    web = login_as(MO_HEAD)
    html = web.get("/").get_data(as_text=True)
    # Nothing claimed yet: the inbox opens on «Доступные».
    assert _counts(html) == {"mine": 0, "available": 1}
    assert 'id="tab-available"\n       aria-current="page"' in html
    assert _task_ids(html) == [task_id]
    assert "Все в моей зоне" not in html  # not a supervisor
    assert f'href="/tasks/{task_id}"' in html

    resp = web.post(f"/tasks/{task_id}/claim", page=f"/tasks/{task_id}")
    assert resp.status_code == 303
    html = web.get("/").get_data(as_text=True)
    assert _counts(html) == {"mine": 1, "available": 0}
    assert _task_ids(html) == [task_id]
    assert _task_ids(web.get("/?tab=available").get_data(as_text=True)) == []


def test_zone_tab_for_supervisors_only(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    assert login_as(MO_HEAD).get("/?tab=zone").status_code == 403
    for supervisor in [f"director.{SCHOOL}", "mms_head.gatchina", "region_official.lenobl"]:
        html = login_as(supervisor).get("/?tab=zone").get_data(as_text=True)
        assert _counts(html)["zone"] == 1, supervisor
        assert _task_ids(html) == [task_id]
        # Not offered to the supervisor: the row opens the instance, not the task form.
        assert f'href="/tasks/{task_id}"' not in html
    html = login_as("mms_head.luga").get("/?tab=zone").get_data(as_text=True)
    assert _counts(html)["zone"] == 0 and _task_ids(html) == []
    assert login_as("teacher.luga-school-1").get("/?tab=zone").status_code == 403


def test_other_officials_see_nothing(seeded: Flask, login_as: Any) -> None:
    start_plans(seeded)
    html = login_as("mo_head.gatchina-school-2").get("/?tab=available").get_data(as_text=True)
    assert _counts(html) == {"mine": 0, "available": 0}
    assert "Нет свободных задач, предложенных вам." in html


def _set_due(app: Flask, task_id: int, delta: timedelta | None) -> None:
    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task is not None
        task.due_at = None if delta is None else utcnow() + delta
        db.session.commit()
        db.session.remove()


def test_filters_search_sort_and_overdue(seeded: Flask, login_as: Any) -> None:
    overdue, soon, later, undated = start_plans(seeded, 4)
    _set_due(seeded, overdue, timedelta(days=-2))
    _set_due(seeded, soon, timedelta(minutes=1))
    _set_due(seeded, later, timedelta(days=30))
    _set_due(seeded, undated, None)
    web = login_as(MO_HEAD)
    base = "/?tab=available"
    html = web.get(base).get_data(as_text=True)
    assert _task_ids(html) == [overdue, soon, later, undated]  # due first, undated last
    assert html.count('class="table-danger-subtle overdue"') == 1
    assert "просрочено" in html
    assert _task_ids(web.get(base + "&due=overdue").get_data(as_text=True)) == [overdue]
    assert _task_ids(web.get(base + "&due=none").get_data(as_text=True)) == [undated]
    today = _task_ids(web.get(base + "&due=today").get_data(as_text=True))
    assert soon in today and later not in today and undated not in today
    desc = _task_ids(web.get(base + "&sort=due&dir=desc").get_data(as_text=True))
    assert desc == [later, soon, overdue, undated]
    assert _task_ids(web.get(base + "&process=mo_plan_approval").get_data(as_text=True)) == [
        overdue, soon, later, undated
    ]  # fmt: skip
    assert _task_ids(web.get(base + "&process=roadmap_approval").get_data(as_text=True)) == []
    # Search in the subject, case-insensitive for Cyrillic on SQLite too.
    for text in ["гатчинская", "Гатчинская", "СОШ № 1"]:
        found = _task_ids(web.get(base + "&q=" + text).get_data(as_text=True))
        assert len(found) == 4, text
    assert _task_ids(web.get(base + "&q=Лужская").get_data(as_text=True)) == []
    html = web.get(base + "&q=100%25").get_data(as_text=True)  # LIKE wildcards are literal
    assert _task_ids(html) == [] and "Ни одна задача не подходит под фильтры." in html
    # Unknown values fall back to defaults instead of failing.
    assert web.get("/?tab=nope&sort=nope&due=nope&page=x&unit=y").status_code == 200


def test_org_unit_filter_and_sorting_by_column(seeded: Flask, login_as: Any) -> None:
    start_plans(seeded, 2)
    web = login_as(MO_HEAD)
    html = web.get("/?tab=available").get_data(as_text=True)
    unit_id = re.search(r'<option value="(\d+)" >МБОУ «Гатчинская СОШ № 1»', html)
    assert unit_id, "the org unit filter lists the school"
    assert len(_task_ids(web.get(f"/?tab=available&unit={unit_id.group(1)}").data.decode())) == 2
    assert _task_ids(web.get("/?tab=available&unit=999999").get_data(as_text=True)) == []
    for column in ["process", "task", "subject", "org_unit", "created", "claimed_by"]:
        resp = web.get(f"/?tab=available&sort={column}&dir=desc")
        assert resp.status_code == 200 and len(_task_ids(resp.get_data(as_text=True))) == 2


def test_pagination(seeded: Flask, login_as: Any) -> None:
    ids = start_plans(seeded, 5)
    seeded.config["INBOX_PER_PAGE"] = 2
    try:
        web = login_as(MO_HEAD)
        pages = [
            _task_ids(web.get(f"/?tab=available&sort=created&page={n}").get_data(as_text=True))
            for n in (1, 2, 3, 4)
        ]
        html = web.get("/?tab=available&page=2").get_data(as_text=True)
    finally:
        seeded.config["INBOX_PER_PAGE"] = 25
    assert pages[:3] == [ids[0:2], ids[2:4], ids[4:5]]
    assert pages[3] == []
    assert 'aria-current="page">2</a>' in html and "Показано 2 из 5." in html


def _measure(app: Flask, web: WebClient, path: str) -> int:
    with recorded(app) as seen:
        resp = web.get(path)
    assert resp.status_code == 200
    return len(seen)


def test_inbox_query_count_does_not_grow_with_tasks(seeded: Flask, login_as: Any) -> None:
    start_plans(seeded, 1)
    web = login_as(MO_HEAD)
    supervisor = login_as(f"director.{SCHOOL}")
    one = {
        path: _measure(seeded, who, path)
        for who, path in [(web, "/?tab=available"), (web, "/?tab=mine"), (supervisor, "/?tab=zone")]
    }
    start_plans(seeded, 29)
    many = {
        path: _measure(seeded, who, path)
        for who, path in [(web, "/?tab=available"), (web, "/?tab=mine"), (supervisor, "/?tab=zone")]
    }
    html = web.get("/?tab=available").get_data(as_text=True)
    assert _counts(html)["available"] == 30 and len(_task_ids(html)) == 25
    assert one == many, (one, many)
    assert max(one.values()) <= 8, one  # session user, counts, total, rows, filter choices, nav
    print(f"inbox statements per page, 1 task vs 30 tasks: {one} / {many}")
