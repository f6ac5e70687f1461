"""The process designer in Chromium with the Content-Security-Policy on: open the modeler on
the current version of mo_plan_approval, rename a user task by direct editing on the canvas,
save the draft, check it, deploy it as version 2 and see the new name in the workspace and the
compare view; edit a field title in the form editor and watch the live preview follow.

The CSP forbids evaluating strings in the page, the test's own too: it waits with `expect`,
never with `wait_for_function`."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.conftest import ApiClient
from tests.web.conftest import SCHOOL

pytestmark = pytest.mark.browser

KEY = "mo_plan_approval"
TASK = "Task_draft"
OLD_NAME = "Разработка плана работы МО"
NEW_NAME = "Подготовка плана работы МО"


def _watch_csp(session: Any) -> list[str]:
    """Collect every CSP violation the page reports (console and securitypolicyviolation)."""
    violations: list[str] = []
    session.page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return violations


def _task_label(page: Any) -> str:
    """The task's label as drawn on the canvas (SVG tspans joined by single spaces)."""
    spans = page.locator(f'g.djs-element[data-element-id="{TASK}"] text tspan')
    return " ".join(str(spans.nth(i).text_content()) for i in range(spans.count()))


def test_designer_renames_a_task_deploys_a_new_version_and_compares(
    open_session: Any, seeded: Flask
) -> None:
    session = open_session()
    violations = _watch_csp(session)
    page = session.login("designer")

    page.goto("/designer/")
    row = page.locator(f'tr[data-key="{KEY}"]')
    assert row.locator("td").nth(1).inner_text().startswith("1 ")
    page.goto(f"/designer/{KEY}/edit")
    page.wait_for_selector("#modeler[data-state=ready]")
    response = page.request.get(f"/designer/{KEY}/edit")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.locator(".djs-element").count() > 10  # bpmn-js rendered under the CSP
    assert " ".join(_task_label(page).split()) == OLD_NAME
    session.shot("designer-01-modeler")

    # Rename by direct editing: double-click the task, replace its label, click away.
    page.locator(f'g.djs-element[data-element-id="{TASK}"]').dblclick()
    editor = page.locator(".djs-direct-editing-parent")
    editor.wait_for(state="visible")
    page.keyboard.press("Control+A")
    page.keyboard.type(NEW_NAME)
    session.shot("designer-02-direct-editing")
    page.locator("#modeler svg").first.click(position={"x": 5, "y": 5})
    editor.wait_for(state="hidden")
    assert " ".join(_task_label(page).split()) == NEW_NAME

    page.get_by_role("button", name="Сохранить черновик").click()
    expect(page.locator("#modeler-status")).to_contain_text("Черновик сохранён")
    page.get_by_role("button", name="Проверить").click()
    expect(page.locator("#modeler-report")).not_to_contain_text("Нажмите")
    report = page.locator("#modeler-report")
    assert report.locator("li.text-danger").count() == 0, report.inner_text()
    session.shot("designer-03-validated")

    # The draft survives a reload: the saved XML carries the new name.
    page.reload()
    page.wait_for_selector("#modeler[data-state=ready]")
    assert " ".join(_task_label(page).split()) == NEW_NAME
    assert "черновик" in page.locator("h1").inner_text()

    page.get_by_role("button", name="Развернуть как новую версию").click()
    page.wait_for_url(f"**/designer/{KEY}")
    assert "Версия 2 развёрнута." in page.locator(".alert").first.inner_text()
    session.shot("designer-04-deployed")

    page.goto("/designer/")
    assert row.locator("td").nth(1).inner_text().startswith("2 ")
    assert "из репозитория" not in row.locator("td").nth(2).inner_text()

    page.goto(f"/designer/{KEY}/compare?from=1&to=2")
    changed = page.locator("li.diff-changed", has=page.locator(f"code:text-is('{TASK}')"))
    assert changed.count() == 1
    text = " ".join(changed.inner_text().split())
    assert OLD_NAME in text and NEW_NAME in text
    session.shot("designer-05-compare")

    # The running system sees version 2 with the new name; nothing was refused by the CSP.
    api = ApiClient(seeded.test_client())
    versions = api.get(f"/processes/{KEY}/versions", "designer").get_json()
    assert [v["version"] for v in versions][:2] == [2, 1]
    started = api.post(
        "/instances",
        f"mo_head.{SCHOOL}",
        json={"process_key": KEY, "org_unit_id": api.unit_id(SCHOOL)},
    ).get_json()
    assert started["tasks"][0]["name"] == NEW_NAME
    assert violations == []


def test_form_editor_preview_follows_the_schema(open_session: Any) -> None:
    session = open_session()
    violations = _watch_csp(session)
    page = session.login("designer")
    page.goto(f"/designer/{KEY}/edit")
    page.wait_for_selector("#modeler[data-state=ready]")
    page.locator("#forms-title + ul a", has_text="draft.json").click()
    page.wait_for_selector("#schema-text")
    preview = page.locator("#form-preview")
    schema = page.locator("#schema-text").input_value()
    assert '"title": "Учебный год"' in schema, schema[:300]
    assert "Учебный год" in preview.inner_text()
    session.shot("designer-06-form-editor")

    # Edit the title in the text area as a person would: select it and type over it.
    page.locator("#schema-text").fill(schema.replace('"Учебный год"', '"Учебный год плана"'))
    page.locator("#schema-text").press("End")
    expect(page.locator("#form-preview")).to_contain_text("Учебный год плана")
    session.shot("designer-07-form-preview")
    page.get_by_role("button", name="Сохранить в черновик").click()
    expect(page.locator("#form-status")).to_contain_text("Сохранено")
    assert violations == []


def test_instance_diagram_renders_under_the_csp(open_session: Any, seeded: Flask) -> None:
    api = ApiClient(seeded.test_client())
    started = api.post(
        "/instances",
        f"mo_head.{SCHOOL}",
        json={"process_key": KEY, "org_unit_id": api.unit_id(SCHOOL)},
    ).get_json()
    session = open_session()
    violations = _watch_csp(session)
    page = session.login(f"mo_head.{SCHOOL}")
    page.goto(f"/instances/{started['id']}")
    page.wait_for_selector("#diagram[data-state=ready]")
    assert page.locator(".djs-element.marker-active").count() == 1
    assert violations == []
