"""Notifications in Chromium: the navbar badge, the list, marking one read and all read."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.web.conftest import SCHOOL, start_plans

pytestmark = pytest.mark.browser

MO_HEAD = f"mo_head.{SCHOOL}"


def test_badge_list_and_mark_read(seeded: Flask, open_session: Any) -> None:
    start_plans(seeded, count=2)  # two tasks offered to the МО head: two notifications
    session = open_session()
    page = session.login(MO_HEAD)
    badge = page.locator("#unread-badge")
    assert badge.inner_text().split()[0] == "2"
    page.locator("#nav-notifications").click()
    page.wait_for_url("**/notifications")
    items = page.locator("[data-notification]")
    assert items.count() == 2
    assert page.locator('[data-read="false"]').count() == 2
    assert "Новая задача" in items.first.inner_text()
    session.shot("notifications-list")

    items.first.get_by_role("button", name="Отметить прочитанным").click()
    page.wait_for_load_state()
    assert page.locator('[data-read="false"]').count() == 1
    assert page.locator("#unread-badge").inner_text().split()[0] == "1"

    page.locator("#mark-all-read").click()
    page.wait_for_load_state()
    assert page.get_by_text("Отмечено прочитанными: 1.").is_visible()
    assert page.locator('[data-read="false"]').count() == 0
    assert page.locator("#unread-badge").count() == 0

    # The notification leads to its task.
    page.locator("[data-notification]").first.get_by_role("link", name="Открыть задачу").click()
    page.wait_for_url("**/tasks/*")
    session.shot("notification-opened-task")
