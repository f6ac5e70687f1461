"""«Мониторинг» in Chromium: the region's dashboard, the school-year selector, the charts,
and a drill-down from a number to the list of instances and on to an instance page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.audit.helpers import run_plan
from tests.conftest import ApiClient
from tests.monitoring import dataset

pytestmark = pytest.mark.browser


def test_region_dashboard_and_drill_down(seeded: Flask, open_session: Any) -> None:
    # A real МО plan waiting for the director (school year 2026/2027, from the plan itself) …
    instance_id = run_plan(ApiClient(seeded.test_client()), finish=False)
    # … and the hand-computed data set of 2025/2026 for the charts.
    with seeded.app_context():
        dataset.load()

    session = open_session({"width": 1400, "height": 1000})
    page = session.login("region_official.lenobl")
    page.get_by_role("link", name="Мониторинг").click()
    page.wait_for_url("**/monitoring/")
    assert page.locator("h1").inner_text() == "Мониторинг"
    gatchina = page.locator('tr[data-municipality="gatchina"]')

    page.locator("#year").select_option("2025/2026")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(re.compile(r".*year=2025%2F2026.*"))
    assert "зарегистрировано" in gatchina.locator("td.agreement").inner_text()
    assert page.locator("#total-overdue").inner_text() == "2"
    assert page.locator("rect.school-cell").count() == 4
    assert page.locator("svg.monitoring-chart").count() == 3
    assert page.locator("svg.monitoring-histogram").count() == 5
    session.shot("monitoring-region-2025")

    page.locator("#year").select_option("2026/2027")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(re.compile(r".*year=2026%2F2027.*"))
    plans = gatchina.locator("td.plans")
    assert "0 из 2 школ" in plans.inner_text()
    plans.get_by_role("link", name="1").click()  # «в работе: 1»
    page.wait_for_url("**/monitoring/drill?**")
    assert page.locator("h1").inner_text() == "Планы МО в работе"
    rows = page.locator("#drill tbody tr[data-instance]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-instance") == str(instance_id)
    session.shot("monitoring-drill-down")

    rows.first.locator("td").nth(1).get_by_role("link").click()
    page.wait_for_url(f"**/instances/{instance_id}")
    assert "Гатчинская СОШ № 1" in page.locator("h1").inner_text()
    session.shot("monitoring-instance")
