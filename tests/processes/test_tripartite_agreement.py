"""Every path of tripartite_agreement through the REST API: reviews with revision loops in
either order, the final document and its hash, three signatures, registration, reminders and
escalations on every review and signing task."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.processes.support import Clock, Flow, docx_text, fire_due_timers, verify_audit_chain

UNIT = "gatchina"
METHODIST = f"mms_methodist.{UNIT}"
REGION = "region_official.lenobl"
CNPPM = "cnppm_head.lenobl"
HEAD = f"municipal_head.{UNIT}"
REVIEWERS = {"Task_region_review": ("region", REGION), "Task_cnppm_review": ("cnppm", CNPPM)}
SIGNERS = {
    "Task_region_sign": ("region_official", REGION),
    "Task_cnppm_sign": ("cnppm_head", CNPPM),
    "Task_municipal_head_sign": ("municipal_head", HEAD),
}


def draft(**changes: Any) -> dict[str, Any]:
    """Valid data of «Подготовка проекта соглашения»."""
    data = {
        "draft_municipal_authority": "Комитет образования Гатчинского муниципального округа",
        "draft_municipal_signatory": "председатель комитета И. И. Иванов",
        "draft_region_authority": "Комитет общего и профессионального образования "
        "Ленинградской области",
        "draft_cnppm_organisation": "ГАОУ ДПО «Ленинградский областной институт развития "
        "образования»",
        "draft_subject": "Совместная реализация мероприятий научно-методического сопровождения.",
        "draft_joint_measures": [
            {"measure": "Курсы для методистов ММС", "party": "cnppm", "deadline": "ежегодно"},
            {"measure": "Условия для работы ММА", "party": "municipality", "deadline": "2026"},
            {"measure": "Мониторинг соглашения", "party": "joint", "deadline": "до 1 июля"},
        ],
        "draft_municipal_obligations": "Помещения и рабочее время методистов.",
        "draft_valid_until": "2027-12-31",
        "draft_revision_note": "",
    }
    data.update(changes)
    return data


def review(flow: Flow, bpmn_id: str, decision: str, comment: str = "") -> None:
    prefix, user = REVIEWERS[bpmn_id]
    flow.complete(bpmn_id, user, {f"{prefix}_decision": decision, f"{prefix}_comment": comment})


def sign_all(flow: Flow, order: list[str] | None = None) -> None:
    for bpmn_id in order or list(SIGNERS):
        role, user = SIGNERS[bpmn_id]
        flow.complete(bpmn_id, user, {f"{role}_sign_confirm": True})


def _started(api: ApiClient) -> Flow:
    flow = Flow(api, "tripartite_agreement").start(METHODIST, UNIT, {})
    assert flow.open_tasks() == ["Task_draft"]
    assert flow.task("Task_draft")["due_at"] is not None  # draft_period
    return flow


def test_agreement_reviewed_signed_and_registered(api: ApiClient) -> None:
    flow = _started(api)
    flow.complete("Task_draft", METHODIST, draft())
    assert flow.open_tasks() == ["Task_cnppm_review", "Task_region_review"]
    assert flow.view["next_timer_at"] is not None  # reminders armed on both reviews
    review(flow, "Task_region_review", "approve")
    assert flow.open_tasks() == ["Task_cnppm_review"]  # the join waits for the second party
    assert flow.documents() == []
    review(flow, "Task_cnppm_review", "approve", "Согласовано")
    assert flow.open_tasks() == sorted(SIGNERS)

    [document] = flow.documents()
    assert document["template"] == "tripartite_agreement"
    text = docx_text(flow.download(document["attachment_id"]))
    for expected in (
        "СОГЛАШЕНИЕ",
        "Соглашение о взаимодействии и совместной реализации мероприятий",
        "Комитет общего и профессионального образования Ленинградской области",
        "Комитет образования Гатчинского муниципального округа",
        "ГАОУ ДПО «Ленинградский областной институт развития образования»",
        "председатель комитета И. И. Иванов",
        "Курсы для методистов ММС",
        "Организация с ЦНППМ",  # the party title of the form, not the code
        "Помещения и рабочее время методистов.",
        "31.12.2027",
        "Регистрационный № __________",
        "Подписи Сторон",
    ):
        assert expected in text, expected
    shown = flow.task_data("Task_region_sign", REGION)["agreement_document"]
    assert shown["sha256"] == document["sha256"]
    assert shown["attachment_id"] == document["attachment_id"]

    sign_all(flow, ["Task_municipal_head_sign", "Task_cnppm_sign", "Task_region_sign"])
    assert flow.open_tasks() == ["Task_registration"]
    signatures = api.get(f"/instances/{flow.id}/signatures", "auditor").get_json()
    assert sorted((s["role"], s["signer"]) for s in signatures) == sorted(SIGNERS.values())
    assert all(s["valid"] and s["sha256"] == document["sha256"] for s in signatures)
    assert {s["attachment_id"] for s in signatures} == {document["attachment_id"]}
    given = [e for e in flow.history() if e["kind"] == "signature_given"]
    assert [e["actor"] for e in given] == [HEAD, CNPPM, REGION]
    assert {e["payload"]["sha256"] for e in given} == {document["sha256"]}

    flow.complete(
        "Task_registration",
        REGION,
        {"registration_number": "15-С/2026", "registration_date": "2026-02-02"},
    )
    assert flow.status == "completed" and flow.view["tasks"] == []
    data = flow.final_data()
    assert data["registration_number"] == "15-С/2026"
    assert data["registration_date"] == "2026-02-02"
    assert data["agreement_document"]["sha256"] == document["sha256"]
    assert [(h["step"], h["decision"]) for h in data["review_history"]] == [
        ("region", "approve"),
        ("cnppm", "approve"),
    ]
    assert data["draft_joint_measures"] == draft()["draft_joint_measures"]
    assert all(data[f"{role}_sign_confirm"] is True for role, _ in SIGNERS.values())

    kinds = flow.kinds()
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    assert kinds.index("document_generated") < kinds.index("signature_given")
    completed = [e["payload"]["bpmn_id"] for e in flow.history() if e["kind"] == "task_completed"]
    assert completed == [
        "Task_draft",
        "Task_region_review",
        "Task_cnppm_review",
        "Task_municipal_head_sign",
        "Task_cnppm_sign",
        "Task_region_sign",
        "Task_registration",
    ]
    # The signed document is still the one registered: the signatures stay valid.
    after = api.get(f"/instances/{flow.id}/signatures", HEAD).get_json()
    assert [s["valid"] for s in after] == [True, True, True]
    verify_audit_chain(api)


ROUNDS = {
    "region_returns": [
        (("Task_region_review", "return"), ("Task_cnppm_review", "approve")),
        (("Task_region_review", "approve"), ("Task_cnppm_review", "approve")),
    ],
    "cnppm_returns_first": [
        (("Task_cnppm_review", "return"), ("Task_region_review", "approve")),
        (("Task_region_review", "approve"), ("Task_cnppm_review", "approve")),
    ],
    "both_return_then_other_order": [
        (("Task_region_review", "return"), ("Task_cnppm_review", "return")),
        (("Task_cnppm_review", "approve"), ("Task_region_review", "return")),
        (("Task_cnppm_review", "approve"), ("Task_region_review", "approve")),
    ],
}


@pytest.mark.parametrize("scenario", list(ROUNDS))
def test_revision_loop(api: ApiClient, scenario: str) -> None:
    flow = _started(api)
    expected = []
    for number, decisions in enumerate(ROUNDS[scenario], start=1):
        flow.complete("Task_draft", METHODIST, draft(draft_revision_note=f"круг {number}"))
        assert flow.open_tasks() == ["Task_cnppm_review", "Task_region_review"]
        for bpmn_id, decision in decisions:
            comment = f"{bpmn_id} {decision} {number}"
            review(flow, bpmn_id, decision, comment)
            expected.append((REVIEWERS[bpmn_id][0], decision, comment))
        if number < len(ROUNDS[scenario]):
            # Back to the municipal side, with both parties' remarks in the history.
            assert flow.open_tasks() == ["Task_draft"]
            shown = flow.task_data("Task_draft", METHODIST)["review_history"]
            assert sorted((h["step"], h["decision"], h["comment"]) for h in shown) == sorted(
                expected
            )
    assert flow.open_tasks() == sorted(SIGNERS)
    assert len(flow.documents()) == 1  # generated once, after the final approval only
    sign_all(flow)
    flow.complete(
        "Task_registration", REGION, {"registration_number": "1", "registration_date": "2026-01-10"}
    )
    assert flow.status == "completed"
    history = flow.final_data()["review_history"]
    # Two decisions per round, region first, each with its own round's comment.
    by_round = [history[i : i + 2] for i in range(0, len(history), 2)]
    assert [[h["step"] for h in pair] for pair in by_round] == [["region", "cnppm"]] * len(
        ROUNDS[scenario]
    )
    assert sorted((h["step"], h["decision"], h["comment"]) for h in history) == sorted(expected)
    assert flow.final_data()["draft_revision_note"] == f"круг {len(ROUNDS[scenario])}"


def test_return_needs_a_comment(api: ApiClient) -> None:
    flow = _started(api)
    flow.complete("Task_draft", METHODIST, draft())
    errors = flow.refused(
        "Task_region_review", REGION, {"region_decision": "return", "region_comment": " "}
    )
    assert "region_comment" in errors
    assert api.get("/tasks?scope=mine", "region_official.lenobl").get_json()["total"] == 1


def test_other_municipality_takes_no_part(api: ApiClient) -> None:
    flow = _started(api)
    flow.complete("Task_draft", METHODIST, draft())
    review(flow, "Task_region_review", "approve")
    review(flow, "Task_cnppm_review", "approve")
    assert api.get("/tasks?scope=mine", "municipal_head.luga").get_json()["total"] == 0
    sign = flow.task("Task_municipal_head_sign")
    resp = api.post(
        f"/tasks/{sign['id']}/complete",
        "municipal_head.luga",
        json={"data": {"municipal_head_sign_confirm": True}},
    )
    assert resp.status_code == 404
    assert api.get(f"/instances/{flow.id}/signatures", "municipal_head.luga").status_code == 404


def _reminders(flow: Flow) -> list[tuple[str, str]]:
    return [
        (n["recipients"][0], "Напоминание" if n["message"].startswith("Напоминание") else "Срок")
        for n in flow.notifications()
    ]


def test_reminders_and_escalations_on_reviews_and_signatures(
    api: ApiClient, clock: Clock, seeded: Any
) -> None:
    flow = _started(api)
    flow.complete("Task_draft", METHODIST, draft())
    region_task = flow.task("Task_region_review")["id"]
    cnppm_task = flow.task("Task_cnppm_review")["id"]
    assert api.post(f"/tasks/{region_task}/claim", REGION).status_code == 200

    clock.move(days=5, hours=1)  # reminder_after = P5D
    report = fire_due_timers(seeded, clock)
    assert flow.id in report.fired
    flow.refresh()
    assert flow.task("Task_region_review")["id"] == region_task  # non-interrupting
    assert flow.task("Task_region_review")["claimed_by"] == REGION
    assert sorted(_reminders(flow)) == [(CNPPM, "Напоминание"), (REGION, "Напоминание")]

    clock.move(days=5)  # escalate_after = P10D: withdrawn and offered again to all holders
    fire_due_timers(seeded, clock)
    flow.refresh()
    new_region = flow.task("Task_region_review")
    assert new_region["id"] != region_task and new_region["claimed_by"] is None
    assert flow.task("Task_cnppm_review")["id"] != cnppm_task
    assert flow.offered(new_region["id"]) == [REGION]
    cancelled = [e["task_id"] for e in flow.history() if e["kind"] == "task_cancelled"]
    assert sorted(cancelled) == sorted([region_task, cnppm_task])
    escalations = [n for n in flow.notifications() if n["message"].startswith("Срок истёк")]
    assert sorted(n["recipients"][0] for n in escalations) == [CNPPM, REGION]
    assert "timer_fired" in flow.kinds()

    review(flow, "Task_cnppm_review", "approve")
    review(flow, "Task_region_review", "approve")
    assert flow.open_tasks() == sorted(SIGNERS)
    [document] = flow.documents()
    first_sign = {b: flow.task(b)["id"] for b in SIGNERS}
    before = len(flow.notifications())

    clock.move(days=5, hours=1)
    fire_due_timers(seeded, clock)
    flow.refresh()
    assert {b: flow.task(b)["id"] for b in SIGNERS} == first_sign
    reminded = flow.notifications()[before:]
    assert sorted(n["recipients"][0] for n in reminded) == sorted(u for _, u in SIGNERS.values())

    clock.move(days=5)
    fire_due_timers(seeded, clock)
    flow.refresh()
    assert all(flow.task(b)["id"] != first_sign[b] for b in SIGNERS)
    for bpmn_id, (_, user) in SIGNERS.items():
        assert flow.offered(flow.task(bpmn_id)["id"]) == [user]
    escalated = [n for n in flow.notifications()[before:] if n["message"].startswith("Срок")]
    assert sorted(n["role"] for n in escalated) == sorted(r for r, _ in SIGNERS.values())

    sign_all(flow)
    flow.complete(
        "Task_registration", REGION, {"registration_number": "7", "registration_date": "2026-03-01"}
    )
    assert flow.status == "completed"
    assert len(flow.documents()) == 1
    signatures = api.get(f"/instances/{flow.id}/signatures", "auditor").get_json()
    assert [s["valid"] for s in signatures] == [True, True, True]
    assert {s["sha256"] for s in signatures} == {document["sha256"]}
    verify_audit_chain(api)
