"""The tripartite agreement carried through the UI in Chromium: the ММС methodist drafts (with
a saved draft round trip), the region and ЦНППМ review in parallel, three parties sign the
generated document shown with its SHA-256, the region registers; a comment and a file on the
instance page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.browser.flows import (
    comment_and_attach,
    complete,
    counts,
    do_task,
    finished,
    login_page,
    open_task,
    save_draft_round_trip,
    start,
)
from tests.processes.test_tripartite_agreement import draft

pytestmark = pytest.mark.browser

METHODIST = "mms_methodist.gatchina"
REGION = "region_official.lenobl"
CNPPM = "cnppm_head.lenobl"
HEAD = "municipal_head.gatchina"


def test_agreement_through_the_ui(seeded: Flask, open_session: Any, tmp_path: Path) -> None:
    methodist, page = login_page(open_session, METHODIST)
    instance_url = start(page, "tripartite_agreement", {})
    methodist.shot("tripartite-started")

    # A comment and a supporting file on the instance page, downloadable again.
    note = tmp_path / "пояснительная записка.txt"
    note.write_text("Проект соглашения на 2026 год", encoding="utf-8")
    comment_and_attach(page, "Проект готовится по образцу прошлого года", note)
    methodist.shot("tripartite-materials")

    open_task(page, "Подготовка проекта соглашения")
    data = draft()
    save_draft_round_trip(
        page,
        {
            "draft_municipal_authority": data["draft_municipal_authority"],
            "draft_joint_measures": data["draft_joint_measures"][:1],
        },
        {
            "draft_municipal_authority": data["draft_municipal_authority"],
            "draft_joint_measures[0][measure]": "Курсы для методистов ММС",
        },
    )
    methodist.shot("tripartite-draft-saved")
    complete(page, data, (methodist, "tripartite-draft"))

    do_task(
        open_session,
        REGION,
        "Рассмотрение проекта региональным органом",
        {"region_decision": "approve", "region_comment": ""},
        "tripartite-region-review",
    )
    do_task(
        open_session,
        CNPPM,
        "Рассмотрение проекта руководителем ЦНППМ",
        {"cnppm_decision": "approve", "cnppm_comment": "Согласовано"},
    )

    # Each party sees the document it signs, with its hash, and can download it.
    for user, confirm in (
        (HEAD, "municipal_head_sign_confirm"),
        (CNPPM, "cnppm_head_sign_confirm"),
        (REGION, "region_official_sign_confirm"),
    ):
        signer, spage = login_page(open_session, user)
        open_task(spage, "Подписание")
        sha = spage.locator("#signed-sha256").inner_text().strip()
        assert len(sha) == 64
        assert spage.locator(".signed-document a").count() == 1
        complete(spage, {confirm: True}, (signer, f"tripartite-sign-{user.split('.')[0]}"))

    registrar, rpage = login_page(open_session, REGION)
    open_task(rpage, "Регистрация соглашения")
    complete(rpage, {"registration_number": "15-С/2026", "registration_date": "2026-02-02"})
    assert counts(rpage)["mine"] == 0

    finished(
        page,
        instance_url,
        {"Task_draft", "Task_region_review", "Task_cnppm_review", "Task_registration"},
    )
    # The generated agreement is listed among the documents, beside the uploaded note.
    names = page.locator(".documents-list").inner_text()
    assert note.name in names and "сформирован процессом" in names
    methodist.shot("tripartite-completed")
