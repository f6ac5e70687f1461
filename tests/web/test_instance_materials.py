"""Comments and attachments in the UI (instance page and beside the task form), and the zone
rule: heads read the instances of their zone, only participants and lane roles add to them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.web.conftest import SCHOOL, start_plans

MO_HEAD = f"mo_head.{SCHOOL}"
COUNCIL = f"methodical_council.{SCHOOL}"


def _instance_of(app: Flask, task_id: int) -> int:
    from app.extensions import db
    from app.models import HumanTask

    with app.app_context():
        instance_id = db.session.get(HumanTask, task_id).instance_id
        db.session.remove()
        return instance_id


def _kinds(app: Flask, instance_id: int, actor: str) -> list[str]:
    from app.extensions import db
    from app.models import AuditEvent, User

    with app.app_context():
        kinds = db.session.execute(
            select(AuditEvent.kind)
            .join(User, User.id == AuditEvent.actor_id)
            .where(AuditEvent.instance_id == instance_id, User.username == actor)
            .order_by(AuditEvent.seq)
        ).scalars()
        result = list(kinds)
        db.session.remove()
        return result


def _upload(web: Any, instance_id: int, name: str, content: bytes, **extra: str) -> Any:
    page = f"/instances/{instance_id}"
    data = {"file": (io.BytesIO(content), name), "csrf_token": web.token(page), **extra}
    return web.client.post(
        f"/instances/{instance_id}/attachments", data=data, content_type="multipart/form-data"
    )


def test_comment_and_file_on_the_instance_page(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    instance_id = _instance_of(seeded, task_id)
    web = login_as(MO_HEAD)
    html = web.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "Комментариев нет." in html and 'class="comment-form"' in html

    resp = web.post(
        f"/instances/{instance_id}/comments",
        {"body": "Прошу учесть <b>сроки</b>"},
        page=f"/instances/{instance_id}",
    )
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/instances/{instance_id}#materials"
    html = web.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "Комментарий добавлен." in html
    assert "Прошу учесть &lt;b&gt;сроки&lt;/b&gt;" in html  # escaped, not markup

    resp = web.post(f"/instances/{instance_id}/comments", {"body": "  "}, page="/")
    assert "Введите текст комментария." in web.get(resp.headers["Location"]).get_data(as_text=True)

    resp = _upload(web, instance_id, "../../etc/план работы.txt", b"plan text")
    assert resp.status_code == 303
    html = web.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert "Файл «план работы.txt» добавлен." in html
    assert "etc" not in html.split('id="documents-title"')[1].split("comments-title")[0]

    from app.extensions import db
    from app.models import Attachment

    with seeded.app_context():
        attachment_id = db.session.execute(
            select(Attachment.id).where(Attachment.instance_id == instance_id)
        ).scalar_one()
        db.session.remove()
    got = web.get(f"/attachments/{attachment_id}/download")
    assert got.status_code == 200 and got.data == b"plan text"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert (
        login_as("mo_head.gatchina-school-2")
        .get(f"/attachments/{attachment_id}/download")
        .status_code
        == 404
    )
    assert _kinds(seeded, instance_id, MO_HEAD)[-2:] == ["comment_added", "attachment_added"]


def test_upload_errors_are_in_russian_and_forms_need_csrf(
    seeded: Flask, login_as: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import documents

    [task_id] = start_plans(seeded)
    instance_id = _instance_of(seeded, task_id)
    web = login_as(MO_HEAD)
    monkeypatch.setattr(documents, "MAX_ATTACHMENT_BYTES", 8)
    resp = _upload(web, instance_id, "big.txt", b"123456789", task_id=str(task_id))
    assert resp.headers["Location"] == f"/tasks/{task_id}#materials"  # back beside the form
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Файл слишком большой." in html
    resp = _upload(web, instance_id, "empty.txt", b"")
    assert "Файл пуст." in web.get(resp.headers["Location"]).get_data(as_text=True)
    raw = web.client.post(f"/instances/{instance_id}/comments", data={"body": "без токена"})
    assert raw.status_code == 400
    raw = web.client.post(
        f"/instances/{instance_id}/attachments",
        data={"file": (io.BytesIO(b"x"), "x.txt")},
        content_type="multipart/form-data",
    )
    assert raw.status_code == 400
    assert "attachment_added" not in _kinds(seeded, instance_id, MO_HEAD)
    assert "comment_added" not in _kinds(seeded, instance_id, MO_HEAD)


def test_task_page_shows_materials_beside_the_form(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    instance_id = _instance_of(seeded, task_id)
    web = login_as(MO_HEAD)
    resp = web.post(
        f"/instances/{instance_id}/comments",
        {"body": "Замечание к плану", "task_id": str(task_id)},
        page=f"/tasks/{task_id}",
    )
    assert resp.headers["Location"] == f"/tasks/{task_id}#materials"
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    aside = html.split('aria-label="Контекст процесса"')[1]
    assert "Замечание к плану" in aside and 'upload-form"' in aside


def test_zone_heads_read_but_do_not_write(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    instance_id = _instance_of(seeded, task_id)
    for head in ("mms_head.gatchina", "municipal_head.gatchina", "region_official.lenobl"):
        web = login_as(head)
        resp = web.get(f"/instances/{instance_id}")
        assert resp.status_code == 200, head
        html = resp.get_data(as_text=True)
        assert 'class="comment-form"' not in html and "materials-readonly" in html
        resp = web.post(f"/instances/{instance_id}/comments", {"body": "x"}, page="/")
        assert resp.status_code == 303
        assert "могут только участники" in web.get(resp.headers["Location"]).get_data(as_text=True)
        # A head is no participant: the read of personal data is audited.
        assert _kinds(seeded, instance_id, head).count("personal_data_viewed") >= 1, head
        assert "comment_added" not in _kinds(seeded, instance_id, head)
    # Out of the zone the instance does not exist.
    for outsider in ("mms_head.luga", "municipal_head.luga", "director.gatchina-school-2"):
        assert login_as(outsider).get(f"/instances/{instance_id}").status_code == 404, outsider
    # A lane role in scope who has no task yet may add (the council reviews the plan later).
    council = login_as(COUNCIL)
    resp = council.post(f"/instances/{instance_id}/comments", {"body": "Готовы"}, page="/")
    assert "comment_added" in _kinds(seeded, instance_id, COUNCIL)
    # Supervisors read everything, and add nothing.
    auditor = login_as("auditor")
    assert auditor.get(f"/instances/{instance_id}").status_code == 200
    auditor.post(f"/instances/{instance_id}/comments", {"body": "x"}, page="/")
    assert "comment_added" not in _kinds(seeded, instance_id, "auditor")


def test_zone_tab_rows_open_for_the_head(seeded: Flask, login_as: Any) -> None:
    start_plans(seeded, 2)
    web = login_as("mms_head.gatchina")
    html = web.get("/?tab=zone").get_data(as_text=True)
    import re

    links = set(re.findall(r'href="(/instances/\d+)"', html))
    assert len(links) == 2
    for link in links:
        assert web.get(link).status_code == 200


def test_completed_instance_takes_no_more_materials(seeded: Flask, login_as: Any) -> None:
    from app.extensions import db
    from app.models import ProcessInstance

    [task_id] = start_plans(seeded)
    instance_id = _instance_of(seeded, task_id)
    with seeded.app_context():
        db.session.get(ProcessInstance, instance_id).status = "completed"
        db.session.commit()
        db.session.remove()
    web = login_as(MO_HEAD)
    html = web.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert 'class="comment-form"' not in html and 'upload-form"' not in html
    resp = web.post(f"/instances/{instance_id}/comments", {"body": "поздно"}, page="/")
    assert "Процесс завершён" in web.get(resp.headers["Location"]).get_data(as_text=True)


def test_materials_do_not_add_queries_per_comment_or_file(seeded: Flask, login_as: Any) -> None:
    from tests.web.test_inbox_pages import _measure

    [task_id] = start_plans(seeded)
    instance_id = _instance_of(seeded, task_id)
    web = login_as(MO_HEAD)
    council = login_as(COUNCIL)

    def add(n: int) -> None:
        for i in range(n):
            who = web if i % 2 else council  # different authors
            who.post(f"/instances/{instance_id}/comments", {"body": f"№{i}"}, page="/")
            _upload(who, instance_id, f"f{i}.txt", f"content {i}".encode())

    add(1)
    pages = [f"/tasks/{task_id}", f"/instances/{instance_id}"]
    for page in pages:  # the first view fills the per-version form cache
        web.get(page)
    one = [_measure(seeded, web, p) for p in pages]
    add(6)
    many = [_measure(seeded, web, p) for p in pages]
    html = web.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert html.count("data-comment-id=") == 7 and html.count("data-attachment-id=") == 7
    assert one == many, (one, many)
    print(f"task page / instance page statements, 1 vs 7 comments and files: {one} / {many}")
