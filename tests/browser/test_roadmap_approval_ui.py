"""The municipal roadmap carried through the UI in Chromium: the ММС methodist drafts rows of
the three directions (with a saved draft round trip), the ММС head, the municipal council and
the municipal head approve; the generated roadmap is listed; a comment and a file on the
instance page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.browser.flows import (
    comment_and_attach,
    complete,
    do_task,
    finished,
    login_page,
    open_task,
    save_draft_round_trip,
    start,
)
from tests.processes.test_roadmap_approval import ROWS, decision, draft

pytestmark = pytest.mark.browser

METHODIST = "mms_methodist.gatchina"


def test_roadmap_through_the_ui(seeded: Flask, open_session: Any, tmp_path: Path) -> None:
    methodist, page = login_page(open_session, METHODIST)
    instance_url = start(page, "roadmap_approval", {})

    open_task(page, "Разработка проекта «дорожной карты»")
    save_draft_round_trip(
        page,
        {"roadmap_period_from": 2026, "roadmap_rows": ROWS[:1]},
        {
            "roadmap_period_from": "2026",
            "roadmap_rows[0][measure]": ROWS[0]["measure"],
            "roadmap_rows[0][system_measure]": ROWS[0]["system_measure"],
        },
    )
    methodist.shot("roadmap-draft-saved")
    complete(page, draft(), (methodist, "roadmap-draft"))

    do_task(
        open_session,
        "mms_head.gatchina",
        "Проверка проекта руководителем ММС",
        decision("Task_check", "approve"),
    )
    do_task(
        open_session,
        "municipal_council.gatchina",
        "Предварительное рассмотрение",
        decision("Task_council", "approve"),
        "roadmap-council",
    )

    # The municipal head comments and attaches the signed order on the instance page.
    head, hpage = login_page(open_session, "municipal_head.gatchina")
    open_task(hpage, "Утверждение комплекса мер")
    hpage.locator("nav .breadcrumb a").nth(1).click()
    hpage.wait_for_selector("#diagram[data-state=ready]")
    order = tmp_path / "распоряжение 112-р.txt"
    order.write_text("Распоряжение об утверждении комплекса мер", encoding="utf-8")
    comment_and_attach(hpage, "Утверждаю после правки сроков", order)
    head.shot("roadmap-materials")
    open_task(hpage, "Утверждение комплекса мер")
    complete(hpage, decision("Task_approval", "approve"), (head, "roadmap-approval"))

    finished(page, instance_url, {"Task_draft", "Task_check", "Task_council", "Task_approval"})
    names = page.locator(".documents-list").inner_text()
    assert order.name in names and "сформирован процессом" in names
    methodist.shot("roadmap-completed")
