"""Every path of roadmap_approval through the REST API: the ММС head's check, the council,
the optional regional consultation, the approval, a return at each review, the roadmap
document with its three directions, and the template rules of the draft form."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.processes.support import Flow, docx_text, verify_audit_chain

UNIT = "gatchina"
METHODIST = f"mms_methodist.{UNIT}"
REVIEWS = {
    "Task_check": ("check", f"mms_head.{UNIT}", "mms_head"),
    "Task_council": ("council", f"municipal_council.{UNIT}", "municipal_council"),
    "Task_consult": ("consult", "regional_methodist.lenobl", "regional_methodist"),
    "Task_approval": ("approval", f"municipal_head.{UNIT}", "municipal_head"),
}


def row(direction: str, measure: str, text: str, deadline: str = "2026-12-20") -> dict[str, Any]:
    return {
        "direction": direction,
        "system_measure": measure,
        "measure": text,
        "responsible": "Муниципальная методическая служба",
        "executors": "Методисты ММС, руководители ОО",
        "deadline": deadline,
        "expected_result": f"Результат: {text.lower()}",
    }


ROWS = [
    row("management", "1.3", "Положение о муниципальном методическом активе"),
    row("management", "1.1", "Положение о муниципальной методической службе"),
    row("professional_mastery", "2.1", "Диагностика профессиональных дефицитов", "2026-10-01"),
    row("content_support", "3.2", "Муниципальный банк успешных практик"),
]


def draft(**changes: Any) -> dict[str, Any]:
    data = {
        "roadmap_period_from": 2026,
        "roadmap_period_to": 2028,
        "roadmap_rows": ROWS,
        "roadmap_revision_note": "",
    }
    data.update(changes)
    return data


def decision(bpmn_id: str, value: str, comment: str = "") -> dict[str, Any]:
    prefix = REVIEWS[bpmn_id][0]
    data: dict[str, Any] = {f"{prefix}_decision": value, f"{prefix}_comment": comment}
    if bpmn_id == "Task_council":
        data.update(council_minutes_number="3", council_meeting_date="2026-01-28")
    if bpmn_id == "Task_approval":
        data.update(approval_act_number="" if value == "return" else "112-р")
        if value == "approve":
            data["approval_act_date"] = "2026-02-05"
    return data


def review(flow: Flow, bpmn_id: str, value: str, comment: str = "") -> None:
    flow.complete(bpmn_id, REVIEWS[bpmn_id][1], decision(bpmn_id, value, comment))


def _start(api: ApiClient, **data: Any) -> Flow:
    flow = Flow(api, "roadmap_approval").start(METHODIST, UNIT, data)
    assert flow.open_tasks() == ["Task_draft"]
    return flow


def _approve_all(flow: Flow, consult: bool) -> None:
    steps = ["Task_check", "Task_council"] + (["Task_consult"] if consult else [])
    for bpmn_id in [*steps, "Task_approval"]:
        assert flow.open_tasks() == [bpmn_id]
        review(flow, bpmn_id, "approve")


@pytest.mark.parametrize("consult", [False, True], ids=["no_consultation", "consultation"])
def test_roadmap_approved(api: ApiClient, consult: bool) -> None:
    flow = _start(api, consult_regional_methodist=consult)
    flow.complete("Task_draft", METHODIST, draft())
    _approve_all(flow, consult)
    assert flow.status == "completed"
    data = flow.final_data()
    expected = ["mms_head", "municipal_council"] + (["regional_methodist"] if consult else [])
    assert [h["step"] for h in data["review_history"]] == [*expected, "municipal_head"]
    assert data["roadmap_rows"] == ROWS
    [document] = flow.documents()
    assert document["template"] == "roadmap"
    assert data["roadmap_document"]["sha256"] == document["sha256"]
    text = docx_text(flow.download(document["attachment_id"]))
    for expected_text in (
        "УТВЕРЖДЁН",
        "от 05.02.2026 № 112-р",
        "Комплекс мер («дорожная карта»)",
        "на 2026–2028 годы",
        "Гатчинский муниципальный округ",
        "Рассмотрено муниципальным методическим советом 28.01.2026, протокол № 3.",
        "Направление 1. «Управление системой научно-методического сопровождения",
        "Направление 2. «Непрерывное повышение профессионального мастерства",
        "Направление 3. «Содержательно-методическое обеспечение",
        "1.3. Формирование и организация деятельности муниципального методического актива",
        "Диагностика профессиональных дефицитов",
        "01.10.2026",
        "Результат выполнения мероприятия",
    ):
        assert expected_text in text, expected_text
    # Rows are grouped by system-forming measure: 1.1 before 1.3, numbered within each.
    assert text.index("Положение о муниципальной методической службе") < text.index(
        "Положение о муниципальном методическом активе"
    )
    assert "1.1.1" in text and "1.3.1" in text and "2.1.1" in text and "3.2.1" in text
    kinds = flow.kinds()
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    verify_audit_chain(api)


@pytest.mark.parametrize(
    "returned_at", ["Task_check", "Task_council", "Task_consult", "Task_approval"]
)
def test_return_goes_back_to_the_draft(api: ApiClient, returned_at: str) -> None:
    flow = _start(api, consult_regional_methodist=True)
    flow.complete("Task_draft", METHODIST, draft())
    order = list(REVIEWS)
    for bpmn_id in order[: order.index(returned_at)]:
        review(flow, bpmn_id, "approve")
    review(flow, returned_at, "return", f"Замечание: {returned_at}")
    assert flow.open_tasks() == ["Task_draft"]
    shown = flow.task_data("Task_draft", METHODIST)["review_history"]
    assert shown[-1] == {
        "step": REVIEWS[returned_at][2],
        "decision": "return",
        "comment": f"Замечание: {returned_at}",
    }
    assert flow.documents() == []
    flow.complete("Task_draft", METHODIST, draft(roadmap_revision_note="Учтено"))
    _approve_all(flow, consult=True)  # every review again, from the ММС head on
    assert flow.status == "completed"
    history = flow.final_data()["review_history"]
    assert len(history) == order.index(returned_at) + 1 + len(order)
    assert len(flow.documents()) == 1


def test_draft_follows_the_template(api: ApiClient) -> None:
    flow = _start(api)
    two_directions = [r for r in ROWS if r["direction"] != "content_support"]
    errors = flow.refused("Task_draft", METHODIST, draft(roadmap_rows=two_directions))
    assert "roadmap_rows" in errors
    wrong_measure = [*ROWS[:3], {**ROWS[3], "system_measure": "1.2"}]
    errors = flow.refused("Task_draft", METHODIST, draft(roadmap_rows=wrong_measure))
    assert any(key.startswith("roadmap_rows") for key in errors)


def test_approval_needs_the_act(api: ApiClient) -> None:
    flow = _start(api)
    flow.complete("Task_draft", METHODIST, draft())
    review(flow, "Task_check", "approve")
    review(flow, "Task_council", "approve")
    errors = flow.refused(
        "Task_approval",
        REVIEWS["Task_approval"][1],
        {"approval_decision": "approve", "approval_comment": "", "approval_act_number": ""},
    )
    assert "approval_act_number" in errors
