"""Helpers for carrying a process through the web UI: fill a JSON Schema form from data as a
person would (typing, choosing, ticking, adding rows), open tasks, check the end state."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import Session


def counts(page: Any) -> dict[str, int]:
    """The numbers on the inbox tabs."""
    found = page.locator("[data-count]")
    return {
        found.nth(i).get_attribute("data-count"): int(found.nth(i).inner_text())
        for i in range(found.count())
    }


def _set(page: Any, name: str, value: Any) -> None:
    boxes = page.locator(f'input[type=checkbox][name="{name}"]')
    if boxes.count() > 1 or (boxes.count() == 1 and isinstance(value, list)):
        chosen = {str(v) for v in value}
        for i in range(boxes.count()):
            box = boxes.nth(i)
            box.set_checked(box.get_attribute("value") in chosen)
        return
    field = page.locator(f'[name="{name}"]')
    assert field.count() == 1, f"no single field named {name}"
    tag = field.evaluate("el => el.tagName.toLowerCase()")
    kind = field.get_attribute("type") or ""
    if tag == "select":
        field.select_option(str(value))
    elif kind == "checkbox":
        field.set_checked(bool(value))
    else:
        field.fill("" if value is None else str(value))


def _field_id(name: str) -> str:
    return "f-" + "-".join(re.findall(r"[^\[\]]+", name))


def fill(page: Any, data: dict[str, Any], prefix: str = "") -> None:
    """Enter data into the task or start form: nested rows are added with «Добавить»."""
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        rows_list = page.locator(f"#{_field_id(name)}[data-rows]")
        if isinstance(value, list) and rows_list.count():
            rows = rows_list.locator("[data-rows-list] > [data-row]")
            while rows.count() > len(value):
                rows.last.locator("[data-remove-row]").click()
            while rows.count() < len(value):
                rows_list.locator("[data-add-row]").last.click()
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    fill(page, item, f"{name}[{i}]")
                else:
                    _set(page, f"{name}[{i}]", item)
        elif isinstance(value, dict):
            fill(page, value, name)
        else:
            _set(page, name, value)


def login_page(open_session: Any, username: str) -> tuple[Session, Any]:
    session = open_session()
    return session, session.login(username)


def open_task(page: Any, name: str) -> None:
    """Open the task of this name from «Мои задачи» or «Доступные»."""
    for tab in ("mine", "available"):
        page.goto(f"/?tab={tab}")
        link = page.locator("table.inbox-table a.fw-semibold", has_text=name)
        if link.count():
            link.first.click()
            page.wait_for_selector("#task-form")
            return
    raise AssertionError(f"task «{name}» is not in the inbox of this user")


def complete(page: Any, data: dict[str, Any], shot: tuple[Session, str] | None = None) -> None:
    """Fill in the open task's form and send it; the inbox confirms the completion."""
    if page.get_by_role("button", name="Взять в работу").count():
        page.get_by_role("button", name="Взять в работу").click()
        page.wait_for_selector("#claim-state")
    fill(page, data)
    if shot:
        shot[0].shot(shot[1])
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_url("**/")
    alert = page.locator(".alert-success")
    assert alert.count() and "выполнена" in alert.first.inner_text(), page.content()[:2000]


def do_task(
    open_session: Any, username: str, task: str, data: dict[str, Any], shot: str | None = None
) -> Session:
    """Log in as the user, open the task and complete it with the data."""
    session, page = login_page(open_session, username)
    open_task(page, task)
    complete(page, data, (session, shot) if shot else None)
    return session


def start(page: Any, key: str, data: dict[str, Any], unit: str | None = None) -> str:
    """Start the process from the catalogue with the start data; the instance page's URL."""
    page.goto("/processes")
    page.locator(f'a[href="/processes/{key}/start"]').click()
    if unit:
        page.locator("#org_unit_id").select_option(label=unit)
    fill(page, data)
    page.get_by_role("button", name="Запустить процесс").click()
    page.wait_for_selector("#diagram[data-state=ready]")
    return page.url


def save_draft_round_trip(page: Any, partial: dict[str, Any], check: dict[str, str]) -> None:
    """Enter part of the form, save it as a draft, reload, and find the values again."""
    if page.get_by_role("button", name="Взять в работу").count():
        page.get_by_role("button", name="Взять в работу").click()
        page.wait_for_selector("#claim-state")
    fill(page, partial)
    page.locator("#save-draft").click()
    page.wait_for_selector("#draft-state")
    assert "Черновик сохранён" in page.locator(".alert-success").first.inner_text()
    page.reload()
    page.wait_for_selector("#draft-state")
    for name, expected in check.items():
        assert page.locator(f'[name="{name}"]').input_value() == expected, name


def comment_and_attach(page: Any, comment: str, file: Path) -> None:
    """On the current page (instance or task), add a comment and upload a file."""
    page.locator("#comment-body").fill(comment)
    page.get_by_role("button", name="Добавить комментарий").click()
    page.wait_for_selector(".alert-success")
    assert "Комментарий добавлен." in page.locator(".alert-success").first.inner_text()
    assert comment in page.locator(".comments-list").inner_text()
    page.locator("#upload-file").set_input_files(str(file))
    page.locator(".upload-form button[type=submit]").click()
    page.wait_for_selector(".alert-success")
    assert f"Файл «{file.name}» добавлен." in page.locator(".alert-success").first.inner_text()
    link = page.locator(".documents-list a", has_text=file.name)
    assert link.count() == 1
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == file.read_bytes()


def finished(page: Any, instance_url: str, done: set[str]) -> None:
    """The instance page shows it completed, with the given steps marked done."""
    page.goto(instance_url)
    page.wait_for_selector("#diagram[data-state=ready]")
    assert page.locator("#instance-status").inner_text().strip() == "Завершён"
    assert page.locator("#diagram").get_attribute("data-active") == "0"
    marked = page.locator(".djs-element.marker-completed")
    ids = {marked.nth(i).get_attribute("data-element-id") for i in range(marked.count())}
    assert done <= ids, done - ids
