"""The overdue view in the UI: zone roles only, grouped by municipality and process, pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.extensions import db
from app.models import HumanTask, OrgUnit, User
from app.models.base import utcnow
from app.services import deployment, instances
from tests.jobs.support import bundle
from tests.web.conftest import WebClient, start_plans

SLOW = {"prepare_due_in": "P3D", "remind_after": "P20D", "escalate_after": "P30D"}


@pytest.fixture()
def overdue(seeded: Flask) -> dict[str, int]:
    """Three overdue tasks: two in Gatchina (a municipality's and a school's), one in Luga."""
    [school_task] = start_plans(seeded)
    ids = {"school": school_task}
    with seeded.app_context():
        deployment.deploy(bundle(), None)
        for slug in ("gatchina", "luga"):
            starter = db.session.execute(
                select(User).where(User.username == f"mms_methodist.{slug}")
            ).scalar_one()
            unit = db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()
            instance = instances.start_instance(starter, "test_escalation", unit.id, SLOW)
            ids[slug] = db.session.execute(
                select(HumanTask.id).where(HumanTask.instance_id == instance.id)
            ).scalar_one()
        days = {"school": 1, "gatchina": 3, "luga": 5}
        for name, task_id in ids.items():
            db.session.execute(
                update(HumanTask)
                .where(HumanTask.id == task_id)
                .values(due_at=utcnow() - timedelta(days=days[name], hours=1))
            )
        db.session.commit()
        db.session.remove()
    return ids


def _listed(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-task="(\d+)">', html)]


def _groups(html: str, table: str) -> dict[str, int]:
    part = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    names = re.findall(r'<td><a href="[^"]*"[^>]*>([^<]+)</a></td>', part)
    counts = [int(c) for c in re.findall(r'data-count="[^"]+">(\d+)<', part)]
    return dict(zip(names, counts, strict=True))


def test_region_sees_every_group_and_links(login_as: Any, overdue: dict[str, int]) -> None:
    web = login_as("region_official.lenobl")
    home = web.get("/").get_data(as_text=True)
    assert 'href="/overdue"' in home  # the navbar link for a zone role
    resp = web.get("/overdue")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert _listed(html) == [overdue["luga"], overdue["gatchina"], overdue["school"]]  # oldest
    assert _groups(html, "by-municipality") == {
        "Гатчинский муниципальный округ": 2,
        "Лужский муниципальный район": 1,
    }
    assert _groups(html, "by-process") == {
        "Тест: срок, напоминание и эскалация": 2,
        "Согласование и утверждение плана работы методического объединения": 1,
    }
    assert f'href="/tasks/{overdue["luga"]}"' in html
    assert re.search(r'href="/instances/\d+"', html)
    instance_link = re.search(r'href="(/instances/\d+)"', html)
    assert instance_link and web.get(instance_link.group(1)).status_code == 200
    assert "Показано 3 из 3." in html


def test_filter_by_group_and_pages(
    seeded: Flask, login_as: Any, overdue: dict[str, int], monkeypatch
) -> None:
    web = login_as("region_official.lenobl")
    with seeded.app_context():
        gatchina = db.session.execute(
            select(OrgUnit.id).where(OrgUnit.slug == "gatchina")
        ).scalar_one()
    html = web.get(f"/overdue?municipality={gatchina}").get_data(as_text=True)
    assert _listed(html) == [overdue["gatchina"], overdue["school"]]
    assert "Показано 2 из 2." in html
    html = web.get("/overdue?process=test_escalation").get_data(as_text=True)
    assert _listed(html) == [overdue["luga"], overdue["gatchina"]]
    html = web.get(f"/overdue?process=test_escalation&municipality={gatchina}").get_data(
        as_text=True
    )
    assert _listed(html) == [overdue["gatchina"]] and "Показано 1 из 1." in html
    monkeypatch.setitem(seeded.config, "OVERDUE_PER_PAGE", 2)
    first = web.get("/overdue").get_data(as_text=True)
    second = web.get("/overdue?page=2").get_data(as_text=True)
    assert _listed(first) == [overdue["luga"], overdue["gatchina"]]
    assert _listed(second) == [overdue["school"]]
    assert 'href="/overdue?page=2"' in first


def test_each_head_sees_only_the_zone(login_as: Any, overdue: dict[str, int]) -> None:
    head = login_as("mms_head.gatchina").get("/overdue").get_data(as_text=True)
    assert sorted(_listed(head)) == sorted([overdue["gatchina"], overdue["school"]])
    director = login_as("director.gatchina-school-1").get("/overdue").get_data(as_text=True)
    assert _listed(director) == [overdue["school"]]
    assert (
        login_as("mms_head.luga").get("/overdue").get_data(as_text=True).count("<tr data-task=")
        == 1
    )


def test_others_are_refused(login_as: Any, overdue: dict[str, int], web: WebClient) -> None:
    teacher = login_as("teacher.gatchina-school-1")
    assert 'href="/overdue"' not in teacher.get("/").get_data(as_text=True)
    resp = teacher.get("/overdue")
    assert resp.status_code == 403
    assert "Просроченные задачи видят" in resp.get_data(as_text=True)
    anonymous = web.get("/overdue")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_nothing_overdue(login_as: Any) -> None:
    html = login_as("mms_head.gatchina").get("/overdue").get_data(as_text=True)
    assert "В вашей зоне нет просроченных задач." in html
