"""МО plan approval carried through the UI in Chromium: start, draft with repeating rows and
form errors, council return, redraft, approval after delegation; diagram markers and counts."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.factories import mo_plan
from tests.web.conftest import SCHOOL, add_colleague

pytestmark = pytest.mark.browser

MO_HEAD = f"mo_head.{SCHOOL}"
COUNCIL = f"methodical_council.{SCHOOL}"
DIRECTOR = f"director.{SCHOOL}"
PLAN = mo_plan()


def counts(page: Any) -> dict[str, int]:
    found = page.locator("[data-count]")
    return {
        found.nth(i).get_attribute("data-count"): int(found.nth(i).inner_text())
        for i in range(found.count())
    }


def open_only_task(page: Any) -> None:
    page.goto("/?tab=available")
    rows = page.locator("table.inbox-table tbody tr")
    assert rows.count() == 1
    rows.first.locator("a.fw-semibold").click()
    page.wait_for_selector("#task-form")


def fill_rows(page: Any, array: str, rows: list[dict[str, str]], start: int = 0) -> None:
    for i, row in enumerate(rows, start=start):
        for key, value in row.items():
            page.locator(f'[name="{array}[{i}][{key}]"]').fill(value)


def fill_draft_with_two_members(page: Any) -> None:
    page.locator('[name="school_year"]').fill(PLAN["school_year"])
    page.locator('[name="mo_name"]').fill(PLAN["mo_name"])
    page.locator('[name="mo_kind"]').select_option("subject")
    page.locator('[name="theme"]').fill(PLAN["theme"])
    page.locator('[name="goal"]').fill(PLAN["goal"])
    page.locator('[name="tasks[0]"]').fill(PLAN["tasks"][0])
    tasks = page.locator("#f-tasks")
    tasks.locator("[data-add-row]").click()
    page.locator('[name="tasks[1]"]').fill(PLAN["tasks"][1])
    members = page.locator("#f-members")
    assert members.locator("[data-row]").count() == 3  # minItems rows are offered
    fill_rows(page, "members", PLAN["members"][:2])
    members.locator("[data-row]").nth(2).locator("[data-remove-row]").click()
    assert members.locator("[data-row]").count() == 2
    fill_rows(page, "meetings", PLAN["meetings"])


def test_plan_from_draft_through_return_to_approval(seeded: Flask, open_session: Any) -> None:
    add_colleague(seeded, "director2", "director")
    head = open_session()
    page = head.login(MO_HEAD)
    assert counts(page) == {"mine": 0, "available": 0}

    # Start from the catalogue: one school, defaults for the parameters.
    page.get_by_role("link", name="Запустить процесс").first.click()
    page.locator('a[href="/processes/mo_plan_approval/start"]').click()
    page.get_by_role("button", name="Запустить процесс").click()
    page.wait_for_selector("#diagram[data-state=ready]")
    instance_url = page.url
    assert page.locator("#diagram").get_attribute("data-active") == "1"
    assert page.locator(".djs-element.marker-active").count() == 1
    assert page.locator("#instance-status").inner_text().strip() == "Выполняется"

    page.goto("/")
    assert counts(page) == {"mine": 0, "available": 1}
    head.shot("inbox-available")
    open_only_task(page)
    page.get_by_role("button", name="Взять в работу").click()
    page.wait_for_selector("#claim-state")

    # Draft with only two members: the server refuses, the values stay, errors sit by fields.
    fill_draft_with_two_members(page)
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_selector("#form-errors")
    assert "Нужно не менее 3 элементов (сейчас 2)." in page.locator("#f-members").inner_text()
    assert page.locator('[name="members[1][full_name]"]').input_value() == "Петров Сергей Иванович"
    assert page.locator('[name="mo_kind"]').input_value() == "subject"
    assert page.locator('[name="meetings[3][planned_date]"]').input_value() == "2027-05-25"
    head.shot("task-form-errors")

    # Keyboard: Enter on «Добавить» adds a row and moves the focus into it.
    page.locator("#f-members [data-add-row]").focus()
    page.keyboard.press("Enter")
    focused = page.evaluate("document.activeElement.name")
    assert focused == "members[2][full_name]"
    fill_rows(page, "members", PLAN["members"][2:], start=2)
    page.locator("#f-events [data-add-row]").click()
    fill_rows(
        page,
        "events",
        [{"title": "Открытый урок", "date": "2026-10-15", "responsible": "Иванова А. П."}],
    )
    head.shot("task-form-filled")
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_url("**/")
    assert "выполнена" in page.locator(".alert-success").inner_text()
    assert counts(page) == {"mine": 0, "available": 0}

    # The council reads the plan beside its form and returns it.
    council = open_session()
    cpage = council.login(COUNCIL)
    assert counts(cpage)["available"] == 1
    open_only_task(cpage)
    assert "Сидорова Мария Олеговна" in cpage.locator("aside").inner_text()
    cpage.get_by_role("button", name="Отправить").click()
    assert "Обязательное поле." in cpage.locator("#f-council_decision-err").inner_text()
    cpage.locator('[name="council_decision"]').select_option("return")
    cpage.locator('[name="council_comment"]').fill("Добавьте заседание по итогам ГИА")
    council.shot("task-council-review")
    cpage.get_by_role("button", name="Отправить").click()
    cpage.wait_for_url("**/")

    # Redraft: the comment is shown, the earlier plan is prefilled.
    open_only_task(page)
    assert "Добавьте заседание по итогам ГИА" in page.locator("aside").inner_text()
    assert page.locator('[name="members[2][full_name]"]').input_value() == "Сидорова Мария Олеговна"
    page.locator("#f-meetings [data-add-row]").click()
    fill_rows(page, "meetings", [{"planned_date": "2027-06-10", "topic": "Итоги ГИА"}], start=4)
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_url("**/")

    open_only_task(cpage)
    cpage.locator('[name="council_decision"]').select_option("approve")
    cpage.get_by_role("button", name="Отправить").click()
    cpage.wait_for_url("**/")

    # The director delegates the approval to a colleague with the same role, who approves.
    director = open_session()
    dpage = director.login(DIRECTOR)
    assert counts(dpage)["available"] == 1 and counts(dpage)["zone"] == 1
    open_only_task(dpage)
    dpage.locator("#delegate-user").select_option("director2")
    dpage.get_by_role("button", name="Передать", exact=True).click()
    dpage.wait_for_url("**/")
    assert "передана" in dpage.locator(".alert-success").inner_text()
    assert counts(dpage) == {"mine": 0, "available": 0, "zone": 1}

    colleague = open_session()
    opage = colleague.login("director2")
    assert counts(opage)["mine"] == 1
    opage.locator("table.inbox-table a.fw-semibold").first.click()
    opage.locator('[name="approval_decision"]').select_option("approve")
    opage.locator('[name="approval_order_number"]').fill("12-о")
    colleague.shot("task-approval")
    opage.get_by_role("button", name="Отправить").click()
    opage.wait_for_url("**/")
    assert counts(opage) == {"mine": 0, "available": 0, "zone": 0}

    # The instance is complete; the diagram marks every step done, none waiting.
    page.goto(instance_url)
    page.wait_for_selector("#diagram[data-state=ready]")
    assert page.locator("#instance-status").inner_text().strip() == "Завершён"
    assert page.locator("#diagram").get_attribute("data-active") == "0"
    done = {
        page.locator(".djs-element.marker-completed").nth(i).get_attribute("data-element-id")
        for i in range(page.locator(".djs-element.marker-completed").count())
    }
    assert {"Task_draft", "Task_council_review", "Task_approve_director"} <= done
    head.shot("instance-completed")


def test_inbox_on_a_phone_and_in_english(
    seeded: Flask, open_session: Any, english_catalog: None
) -> None:
    from tests.web.conftest import start_plans

    start_plans(seeded, 3)
    phone = open_session({"width": 390, "height": 844})
    page = phone.login(MO_HEAD)
    assert counts(page) == {"mine": 0, "available": 3}
    assert page.locator("table.inbox-table").is_visible()
    phone.shot("inbox-phone")
    page.get_by_role("button", name="Открыть меню").click()
    page.get_by_role("button", name="EN").click()
    page.wait_for_selector("html[lang=en]")
    assert "Available" in page.locator(".inbox-tabs").inner_text()
    phone.shot("inbox-phone-en")
    page.locator("table.inbox-table a.fw-semibold").first.click()
    page.wait_for_selector("#task-form")
    phone.shot("task-phone-en")
