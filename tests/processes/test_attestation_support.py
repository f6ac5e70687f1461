"""Every path of attestation_support through the REST API: the support steps, the
commission's consideration and decision (granted / refused with a new support round or the
end), the 30-day and 60-day reminders, and the 60-day escalation to the regional authority."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.processes.support import Clock, Flow, fire_due_timers, verify_audit_chain

SCHOOL = "gatchina-school-1"
TEACHER = f"teacher.{SCHOOL}"
DEPUTY = f"deputy_director.{SCHOOL}"
EXPERT = f"mo_head.{SCHOOL}"
COMMISSION = "attestation_commission.lenobl"
REGION = "region_official.lenobl"

REQUEST = {
    "teacher_username": TEACHER,
    "teacher_full_name": "Петрова Мария Ивановна",
    "request_position": "учитель математики",
    "request_subject": "математика",
    "request_current_category": "first",
    "request_target_category": "highest",
    "request_support_needs": "Подготовка портфолио",
    "personal_data_consent": True,
}
PLAN = {
    "plan_activities": [
        {
            "activity": "Открытый урок",
            "form": "open_lesson",
            "deadline": "2026-03-01",
            "responsible": "Руководитель МО",
        }
    ],
    "expert_username": EXPERT,
    "plan_portfolio_deadline": "2026-04-01",
    "plan_comment": "",
}
EXPERT_OPINION = {
    "expert_conclusion": "recommended",
    "expert_summary": "Устойчивые результаты обучающихся",
    "expert_recommendations": "",
}
PORTFOLIO = {
    "portfolio_items": [
        {"title": "Результаты ОГЭ", "kind": "student_results", "description": "", "url": ""}
    ],
    "portfolio_attachments": [],
    "portfolio_comment": "",
}
SUBMISSION = {
    "submission_date": "2026-04-10",
    "submission_channel": "epgu",
    "submission_number": "",
}
CONSIDERATION = {
    "consideration_received_date": "2026-04-11",
    "consideration_attestation_date": "2026-05-15",
    "consideration_teacher_notified": True,
}


def decision(granted: bool) -> dict[str, Any]:
    return {
        "commission_decision": "granted" if granted else "refused",
        "commission_decision_date": "2026-05-20",
        "commission_minutes_number": "14",
        "commission_order_number": "Р-301" if granted else "",
        "commission_refusal_reasons": "" if granted else "Недостаточно результатов",
    }


def _start(api: ApiClient) -> Flow:
    flow = Flow(api, "attestation_support").start(TEACHER, SCHOOL, REQUEST)
    assert flow.open_tasks() == ["Task_plan"]
    return flow


def _support_round(flow: Flow) -> None:
    """Plan → expert assessment → portfolio → submission → consideration: the decision is open."""
    flow.complete("Task_plan", DEPUTY, PLAN)
    flow.complete("Task_expert", EXPERT, EXPERT_OPINION)
    flow.complete("Task_portfolio", TEACHER, PORTFOLIO)
    flow.complete("Task_submission", TEACHER, SUBMISSION)
    flow.complete("Task_consideration", COMMISSION, CONSIDERATION)
    assert flow.open_tasks() == ["Task_decision"]


def test_category_granted(api: ApiClient) -> None:
    flow = _start(api)
    _support_round(flow)
    assert flow.task("Task_decision")["due_at"] is not None  # attestation_max_duration
    flow.complete("Task_decision", COMMISSION, decision(granted=True))
    assert flow.status == "completed"
    [message] = flow.notifications()
    assert message["recipients"] == [TEACHER]
    assert "Протокол № 14" in message["message"] and "Р-301" in message["message"]
    data = flow.final_data()
    assert data["commission_decision"] == "granted"
    assert data["granted_notification"] == {"sent": 1}
    assert data["review_history"] == [
        {"step": "attestation_commission", "decision": "granted", "comment": ""}
    ]
    assert data["portfolio_items"] == PORTFOLIO["portfolio_items"]
    named = {
        e["payload"]["bpmn_id"]: e["payload"]["reason"]
        for e in flow.history()
        if e["kind"] == "task_offered"
    }
    assert named["Task_expert"] == "named" and named["Task_portfolio"] == "named"
    assert named["Task_plan"] == "role" and named["Task_decision"] == "role"
    kinds = flow.kinds()
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    verify_audit_chain(api)


def test_refused_then_new_support_round(api: ApiClient) -> None:
    flow = _start(api)
    _support_round(flow)
    flow.complete("Task_decision", COMMISSION, decision(granted=False))
    assert flow.open_tasks() == ["Task_followup"]
    flow.complete("Task_followup", TEACHER, {"followup_accept": True, "followup_comment": ""})
    assert flow.open_tasks() == ["Task_plan"]
    shown = flow.task_data("Task_plan", DEPUTY)["review_history"]
    assert shown == [
        {
            "step": "attestation_commission",
            "decision": "refused",
            "comment": "Недостаточно результатов",
        }
    ]
    _support_round(flow)
    flow.complete("Task_decision", COMMISSION, decision(granted=True))
    assert flow.status == "completed"
    assert [h["decision"] for h in flow.final_data()["review_history"]] == ["refused", "granted"]


def test_refused_and_support_ends(api: ApiClient) -> None:
    flow = _start(api)
    _support_round(flow)
    errors = flow.refused(
        "Task_decision", COMMISSION, {**decision(granted=False), "commission_refusal_reasons": ""}
    )
    assert "commission_refusal_reasons" in errors
    flow.complete("Task_decision", COMMISSION, decision(granted=False))
    flow.complete("Task_followup", TEACHER, {"followup_accept": False, "followup_comment": "Позже"})
    assert flow.status == "completed"
    assert flow.notifications() == []
    assert flow.final_data()["followup_accept"] is False


@pytest.mark.parametrize(
    "expert",
    ["no.such.user", "mo_head.gatchina-school-2", "teacher.gatchina-school-1"],
    ids=["unknown", "other-school", "not-mo-head"],
)
def test_expert_must_be_an_mo_head_of_the_school(api: ApiClient, expert: str) -> None:
    flow = _start(api)
    task = flow.task("Task_plan")
    resp = api.post(
        f"/tasks/{task['id']}/complete", DEPUTY, json={"data": {**PLAN, "expert_username": expert}}
    )
    assert resp.status_code == 422
    [message] = resp.get_json()["errors"]["expert_username"]
    assert (
        f"«{expert}» не найден" in message and "Руководитель методического объединения" in message
    )
    assert flow.open_tasks() == ["Task_plan"]  # nothing advanced


def test_teacher_must_work_at_the_school(api: ApiClient) -> None:
    for teacher in ("no.such.user", "teacher.gatchina-school-2"):
        resp = api.post(
            "/instances",
            TEACHER,
            json={
                "process_key": "attestation_support",
                "org_unit_id": api.unit_id(SCHOOL),
                "data": {**REQUEST, "teacher_username": teacher},
            },
        )
        assert resp.status_code == 422, resp.get_json()
        [message] = resp.get_json()["errors"]["teacher_username"]
        assert f"«{teacher}» не найден" in message
    started = api.get("/audit?kind=instance_started", "auditor").get_json()
    assert started["total"] == 0  # nothing was started


def test_reminders_and_the_60_day_escalation(api: ApiClient, clock: Clock, seeded: Any) -> None:
    flow = _start(api)
    flow.complete("Task_plan", DEPUTY, PLAN)
    flow.complete("Task_expert", EXPERT, EXPERT_OPINION)
    flow.complete("Task_portfolio", TEACHER, PORTFOLIO)
    flow.complete("Task_submission", TEACHER, SUBMISSION)
    consideration = flow.task("Task_consideration")["id"]

    clock.move(days=25, hours=1)  # commission_reminder_after = P25D
    fire_due_timers(seeded, clock)
    flow.refresh()
    assert flow.task("Task_consideration")["id"] == consideration
    [reminder] = flow.notifications()
    assert reminder["recipients"] == [COMMISSION] and "30-дневный срок" in reminder["message"]
    flow.complete("Task_consideration", COMMISSION, CONSIDERATION)
    decision_task = flow.task("Task_decision")["id"]

    clock.move(days=50, hours=1)  # attestation_reminder_after = P50D
    fire_due_timers(seeded, clock)
    flow.refresh()
    assert flow.task("Task_decision")["id"] == decision_task
    assert "60-дневный срок" in flow.notifications()[-1]["message"]

    draft = {"data": {"commission_decision": "granted"}}
    saved = api.call("PUT", f"/tasks/{decision_task}/draft", COMMISSION, json=draft)
    assert saved.status_code == 200, saved.get_json()
    with seeded.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import TaskDraft

        assert db.session.execute(select(func.count(TaskDraft.id))).scalar_one() == 1
        db.session.remove()

    clock.move(days=10)  # attestation_max_duration = P60D: escalation to the region
    fire_due_timers(seeded, clock)
    flow.refresh()
    assert flow.open_tasks() == ["Task_deadline_control"]
    # The cancelled task's draft goes with it (nobody will open that form again).
    with seeded.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import TaskDraft

        assert db.session.execute(select(func.count(TaskDraft.id))).scalar_one() == 0
        db.session.remove()
    escalation = flow.notifications()[-1]
    assert escalation["recipients"] == [REGION]
    assert "Превышена предельная продолжительность аттестации" in escalation["message"]
    cancelled = [e["task_id"] for e in flow.history() if e["kind"] == "task_cancelled"]
    assert cancelled == [decision_task]
    flow.complete(
        "Task_deadline_control",
        REGION,
        {
            "control_measures": "Поручено председателю комиссии",
            "control_expected_date": "2026-08-01",
        },
    )
    reoffered = flow.task("Task_decision")
    assert reoffered["id"] != decision_task
    assert flow.offered(reoffered["id"]) == [COMMISSION]
    assert flow.view["next_timer_at"] is not None  # a new 60-day timer on the new task
    flow.complete("Task_decision", COMMISSION, decision(granted=True))
    assert flow.status == "completed"
    data = flow.final_data()
    assert data["control_measures"] == "Поручено председателю комиссии"
    assert data["escalation_result"] == {"sent": 1}
    assert data["consideration_reminder_result"] == {"sent": 1}
    assert data["attestation_reminder_result"] == {"sent": 1}
    assert flow.kinds().count("timer_fired") == 3


def test_portfolio_takes_only_files_of_its_own_instance(api: ApiClient) -> None:
    import io

    def upload(flow: Flow) -> int:
        resp = api.post(
            f"/instances/{flow.id}/attachments",
            TEACHER,
            data={"file": (io.BytesIO(b"portfolio"), "portfolio.pdf")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 201, resp.get_json()
        return int(resp.get_json()["id"])

    flows = []
    for _ in range(2):
        flow = _start(api)
        flow.complete("Task_plan", DEPUTY, PLAN)
        flow.complete("Task_expert", EXPERT, EXPERT_OPINION)
        flows.append(flow)
    own, other = upload(flows[0]), upload(flows[1])
    task = flows[0].task("Task_portfolio")
    resp = api.post(
        f"/tasks/{task['id']}/complete",
        TEACHER,
        json={"data": {**PORTFOLIO, "portfolio_attachments": [own, other]}},
    )
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["portfolio_attachments"] == [
        f"Файлы не относятся к этому процессу: {other}."
    ]
    flows[0].complete("Task_portfolio", TEACHER, {**PORTFOLIO, "portfolio_attachments": [own]})
    assert flows[0].open_tasks() == ["Task_submission"]
