"""ММА selection carried through the UI in Chromium: a teacher applies (the applicant field is
prefilled with the teacher), the ММС methodist checks with a comment and a file beside the
form, the regional methodist records the diagnostics after a saved draft round trip, the ММС
head includes the teacher, the methodist registers; the teacher then holds `mma_member`."""

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
from tests.processes.test_mma_selection import INCLUDE, PASSED, REGISTERED, application

pytestmark = pytest.mark.browser

APPLICANT = "teacher.gatchina-school-1"
METHODIST = "mms_methodist.gatchina"
REGIONAL = "regional_methodist.lenobl"
HEAD = "mms_head.gatchina"


def test_selection_through_the_ui(seeded: Flask, open_session: Any, tmp_path: Path) -> None:
    teacher, page = login_page(open_session, APPLICANT)
    page.goto("/processes/mma_selection/start")
    assert page.locator('[name="applicant_username"]').input_value() == APPLICANT
    data = application()
    del data["applicant_username"]
    teacher.shot("mma-start")
    instance_url = start(page, "mma_selection", data)
    assert page.locator("#instance-status").inner_text().strip() == "Выполняется"

    # The methodist leaves a remark and a scan beside the check form, then confirms.
    methodist, mpage = login_page(open_session, METHODIST)
    open_task(mpage, "Проверка заявления методистом ММС")
    scan = tmp_path / "diplom.pdf"
    scan.write_bytes(b"%PDF-1.4 copy of the diploma")
    comment_and_attach(mpage, "Диплом проверен по оригиналу", scan)
    assert "/tasks/" in mpage.url  # back beside the form, not on the instance page
    methodist.shot("mma-check-materials")
    complete(mpage, {"check_result": "confirmed", "check_comment": ""})

    regional, rpage = login_page(open_session, REGIONAL)
    open_task(rpage, "Диагностика профессиональных компетенций")
    save_draft_round_trip(
        rpage,
        {"diagnostics_date": "2026-03-10", "diagnostics_score": "87"},
        {"diagnostics_date": "2026-03-10", "diagnostics_score": "87"},
    )
    regional.shot("mma-diagnostics-draft")
    complete(rpage, PASSED)

    do_task(open_session, HEAD, "Решение руководителя ММС", INCLUDE, "mma-head-decision")
    do_task(open_session, METHODIST, "Внесение в муниципальную базу", REGISTERED)

    finished(
        page,
        instance_url,
        {"Task_check", "Task_diagnostics", "Task_head_decision", "Task_register"},
    )
    assert "Диплом проверен по оригиналу" in page.locator(".comments-list").inner_text()
    teacher.shot("mma-completed")
