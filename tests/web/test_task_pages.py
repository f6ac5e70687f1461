"""The task page: permissions, the form rendered from JSON Schema, errors with values kept,
claim / unclaim / delegate, and the instance context beside the form."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.factories import mo_plan
from tests.web.conftest import SCHOOL, WebClient, add_colleague, start_plans

MO_HEAD = f"mo_head.{SCHOOL}"
COUNCIL = f"methodical_council.{SCHOOL}"


def plan_form(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """The МО plan as the task page's form posts it (bracketed names, one row per item)."""
    fields: list[tuple[str, str]] = []
    for key in ["school_year", "mo_name", "mo_kind", "theme", "goal"]:
        fields.append((key, plan.get(key, "")))
    for i, task in enumerate(plan.get("tasks", [])):
        fields.append((f"tasks[{i}]", task))
    for array in ["members", "meetings", "events"]:
        for i, row in enumerate(plan.get(array, [])):
            fields.extend((f"{array}[{i}][{k}]", v) for k, v in row.items())
    return fields


def _submit(web: WebClient, task_id: int, fields: Any) -> Any:
    return web.post(f"/tasks/{task_id}/complete", fields, page=f"/tasks/{task_id}")


def _open_task(app: Flask, instance_of: int) -> int:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import HumanTask

    with app.app_context():
        instance_id = db.session.get(HumanTask, instance_of).instance_id
        task = db.session.execute(
            select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, HumanTask.status == "open"
            )
        ).scalar_one_or_none()
        db.session.remove()
        return task


def test_task_page_permissions(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    assert login_as("teacher.luga-school-1").get(f"/tasks/{task_id}").status_code == 404
    assert login_as("mo_head.gatchina-school-2").get(f"/tasks/{task_id}").status_code == 404
    stranger = login_as("mo_head.gatchina-school-2")
    for action in ["claim", "unclaim", "complete"]:
        resp = stranger.post(f"/tasks/{task_id}/{action}", page="/")
        assert resp.status_code == 404, action
    resp = stranger.post(f"/tasks/{task_id}/delegate", {"username": MO_HEAD}, page="/")
    assert resp.status_code == 404
    # The auditor may look, read-only, but not act.
    auditor = login_as("auditor")
    html = auditor.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Вы видите задачу как наблюдатель" in html and "Отправить" not in html
    assert auditor.post(f"/tasks/{task_id}/claim", page="/").status_code == 403


def test_form_is_rendered_from_the_schema(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    html = login_as(MO_HEAD).get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Разработка плана работы МО" in html
    assert 'name="school_year"' in html and 'placeholder="2026/2027"' in html
    assert re.search(r'<textarea[^>]+name="goal"', html)  # long string → textarea
    assert re.search(r'<select[^>]+name="mo_kind"', html)
    assert '<option value="interdisciplinary">Межпредметное</option>' in html
    # Arrays of objects are repeating rows; the schema's minimum is offered empty.
    assert html.count('name="members[0][full_name]"') == 1
    assert 'name="members[2][position]"' in html and 'name="meetings[3][planned_date]"' in html
    assert 'type="date"' in html
    assert 'name="members[__INDEX__][full_name]"' in html  # the row template
    assert "data-add-row" in html and "data-remove-row" in html
    assert 'name="tasks[0]"' in html  # array of strings
    assert "Правовое основание" in html and "seeds/001_66707f66906d6c67.txt" in html
    assert "Это первый шаг процесса." in html


def test_errors_are_shown_next_to_fields_with_values_kept(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    web = login_as(MO_HEAD)
    plan = mo_plan(members=mo_plan()["members"][:2], school_year="2026-2027")
    fields = plan_form(plan)
    fields.append(("meetings[4][topic]", "Заседание без даты"))
    fields.append(("members[7][full_name]", ""))  # a row left empty is dropped
    resp = _submit(web, task_id, fields)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Форма заполнена с ошибками." in html
    school_year = re.search(r'<input[^>]+name="school_year"[^>]*>', html).group(0)
    assert 'value="2026-2027"' in school_year and "is-invalid" in school_year
    assert "Значение не соответствует требуемому формату." in html
    assert "Нужно не менее 3 элементов (сейчас 2)." in html
    assert 'id="f-meetings-4-planned_date-err"' in html  # the error sits by the row's field
    assert ">Заседание без даты</textarea>" in html
    assert 'value="Иванова Анна Петровна"' in html and 'value="Петров Сергей Иванович"' in html
    assert 'name="members[2][full_name]"' not in html  # no phantom rows after the kept ones
    assert "Формирование функциональной грамотности</textarea>" in html
    assert '<option value="subject" selected>' in html
    assert 'href="#f-school_year"' in html  # the summary links to the field


def test_complete_moves_the_process_on(seeded: Flask, login_as: Any) -> None:
    [task_id] = start_plans(seeded)
    web = login_as(MO_HEAD)
    resp = _submit(web, task_id, plan_form(mo_plan()))
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    assert "Задача «Разработка плана работы МО» выполнена." in web.get("/").get_data(as_text=True)
    assert web.get(f"/tasks/{task_id}").status_code == 200  # still visible, completed
    assert _submit(web, task_id, plan_form(mo_plan())).status_code == 303  # conflict → inbox
    review = _open_task(seeded, task_id)
    council = login_as(COUNCIL)
    html = council.get(f"/tasks/{review}").get_data(as_text=True)
    # The council sees the plan submitted at the previous step, with titles and tables.
    assert "Предыдущие шаги" in html and "Разработка плана работы МО" in html
    assert "МО учителей математики" in html and "Сидорова Мария Олеговна" in html
    assert "Предметное" in html  # enum value shown by its title
    resp = _submit(council, review, {"council_decision": "return", "council_comment": "  "})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert '<option value="return" selected>' in html
    assert "Поле не может быть пустым." in html or "Обязательное поле." in html
    resp = _submit(
        council, review, {"council_decision": "return", "council_comment": "Добавьте заседание"}
    )
    assert resp.status_code == 303
    redraft = _open_task(seeded, task_id)
    html = web.get(f"/tasks/{redraft}").get_data(as_text=True)
    assert "Добавьте заседание" in html  # the review comment beside the form
    assert "Вернуть на доработку" in html
    assert 'value="МО учителей математики"' in html  # the earlier plan is prefilled


def test_claim_unclaim_and_claimed_by_someone_else(seeded: Flask, login_as: Any) -> None:
    add_colleague(seeded, "mo_head2", "mo_head")
    [task_id] = start_plans(seeded)
    web = login_as(MO_HEAD)
    colleague = login_as("mo_head2")
    resp = web.post(f"/tasks/{task_id}/claim", page=f"/tasks/{task_id}")
    assert resp.status_code == 303 and resp.headers["Location"] == f"/tasks/{task_id}"
    assert "Задача у вас в работе" in web.get(f"/tasks/{task_id}").get_data(as_text=True)
    html = colleague.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "В работе у: Руководитель методического объединения" in html
    assert "Отправить" not in html and "disabled" in html
    assert _submit(colleague, task_id, plan_form(mo_plan())).status_code == 403
    resp = colleague.post(f"/tasks/{task_id}/claim", page="/", follow_redirects=True)
    assert resp.status_code == 200  # back on the task page, with the refusal shown on it
    assert "Задачу уже взял в работу mo_head.gatchina-school-1." in resp.get_data(as_text=True)
    web.post(f"/tasks/{task_id}/unclaim", page="/")
    resp = colleague.post(f"/tasks/{task_id}/claim", page="/", follow_redirects=True)
    assert "Задача взята в работу." in resp.get_data(as_text=True)


def test_delegate_to_a_colleague_with_the_same_role(seeded: Flask, login_as: Any) -> None:
    add_colleague(seeded, "mo_head2", "mo_head")
    add_colleague(seeded, "teacher2", "teacher")
    [task_id] = start_plans(seeded)
    web = login_as(MO_HEAD)
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)">[^<]*\(\1\)</option>', html)
    assert options == ["mo_head2"]  # only holders of the same role in scope
    resp = web.post(f"/tasks/{task_id}/delegate", {"username": "teacher2"}, page="/")
    assert resp.status_code == 303
    html = web.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Передать задачу можно только коллеге с той же ролью." in html
    resp = web.post(f"/tasks/{task_id}/delegate", {"username": "mo_head2"}, page="/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    assert "Задача передана пользователю mo_head2." in web.get("/").get_data(as_text=True)
    html = login_as("mo_head2").get("/").get_data(as_text=True)
    assert f'data-task-id="{task_id}"' in html and 'data-count="mine">1<' in html
