"""Attestation support carried through the UI in Chromium: the teacher requests support, the
deputy director plans and names the expert, the МО head assesses, the teacher builds the
portfolio with a file uploaded in the form's attachment field (after a saved draft round
trip), submits, and the commission considers and grants the category; a comment and a file
on the instance page."""

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
from tests.processes.test_attestation_support import (
    CONSIDERATION,
    EXPERT_OPINION,
    PLAN,
    PORTFOLIO,
    REQUEST,
    SUBMISSION,
    decision,
)

pytestmark = pytest.mark.browser

TEACHER = "teacher.gatchina-school-1"
COMMISSION = "attestation_commission.lenobl"


def test_attestation_through_the_ui(seeded: Flask, open_session: Any, tmp_path: Path) -> None:
    teacher, page = login_page(open_session, TEACHER)
    request = {k: v for k, v in REQUEST.items() if k != "teacher_username"}
    instance_url = start(page, "attestation_support", request)
    letter = tmp_path / "заявление.txt"
    letter.write_text("Прошу сопровождения при аттестации", encoding="utf-8")
    comment_and_attach(page, "Хочу начать с открытого урока", letter)
    teacher.shot("attestation-materials")

    do_task(
        open_session,
        "deputy_director.gatchina-school-1",
        "Согласование плана",
        PLAN,
        "attestation-plan",
    )
    do_task(open_session, "mo_head.gatchina-school-1", "Экспертная оценка", EXPERT_OPINION)

    # The portfolio: part saved as a draft, then a file uploaded in the form itself.
    open_task(page, "Подготовка портфолио")
    field = page.locator("#f-portfolio_attachments")
    assert field.locator("input[type=checkbox]").count() == 1  # the letter is offered
    save_draft_round_trip(
        page,
        {"portfolio_items": PORTFOLIO["portfolio_items"]},
        {"portfolio_items[0][title]": "Результаты ОГЭ"},
    )
    results = tmp_path / "результаты ОГЭ.csv"
    results.write_text("класс;средний балл\n9А;4,3\n", encoding="utf-8")
    page.locator("#f-portfolio_attachments-upload").set_input_files(str(results))
    teacher.shot("attestation-portfolio")
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_url("**/")
    assert "выполнена" in page.locator(".alert-success").first.inner_text()

    open_task(page, "Подача заявления")
    complete(page, SUBMISSION)
    do_task(open_session, COMMISSION, "Рассмотрение заявления", CONSIDERATION)
    do_task(
        open_session,
        COMMISSION,
        "Решение аттестационной комиссии",
        decision(True),
        "attestation-decision",
    )

    finished(
        page,
        instance_url,
        {"Task_plan", "Task_expert", "Task_portfolio", "Task_submission", "Task_decision"},
    )
    assert results.name in page.locator(".documents-list").inner_text()
    teacher.shot("attestation-completed")
    # The process data keeps the id of the file uploaded in the portfolio form.
    assert _portfolio_files(seeded) == [results.name]


def _portfolio_files(app: Flask) -> list[str]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Attachment, AuditEvent

    with app.app_context():
        payloads = db.session.execute(
            select(AuditEvent.payload).where(AuditEvent.kind == "task_completed")
        ).scalars()
        [ids] = [
            p["data"]["portfolio_attachments"] for p in payloads if p["bpmn_id"] == "Task_portfolio"
        ]
        names = [db.session.get(Attachment, i).filename for i in ids]
        db.session.remove()
        return names
