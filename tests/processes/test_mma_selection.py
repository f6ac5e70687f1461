"""Every path of mma_selection through the REST API: self application and nomination, the
clarification loop, each eligibility criterion of the DMN table (with the sentences the
applicant reads), diagnostics, the ММС head's decision, the `mma_member` role and the
municipal register (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.processes.support import Flow, verify_audit_chain

UNIT = "gatchina"
SCHOOL = "gatchina-school-1"
APPLICANT = f"teacher.{SCHOOL}"
DIRECTOR = f"director.{SCHOOL}"
METHODIST = f"mms_methodist.{UNIT}"
REGIONAL = "regional_methodist.lenobl"
HEAD = f"mms_head.{UNIT}"
TEACHER_2 = "teacher.gatchina-school-2"


def application(**changes: Any) -> dict[str, Any]:
    """Valid start data: an applicant who meets every criterion."""
    data = {
        "application_kind": "self",
        "applicant_username": APPLICANT,
        "applicant_full_name": "Петрова Мария Ивановна",
        "applicant_organisation": "МБОУ «Гатчинская СОШ № 1»",
        "applicant_position": "учитель математики",
        "has_higher_pedagogical_education": True,
        "pedagogical_experience_years": 12,
        "qualification_category": "highest",
        "contributions": ["gia_expert", "municipal_mo_head"],
        "contributions_details": "",
        "personal_data_consent": True,
    }
    data.update(changes)
    return data


CONFIRMED = {"check_result": "confirmed", "check_comment": ""}
PASSED = {
    "diagnostics_date": "2026-03-10",
    "diagnostics_score": 87,
    "diagnostics_passed": True,
    "diagnostics_protocol_number": "7",
    "diagnostics_training_completed": True,
    "diagnostics_comment": "",
}
INCLUDE = {"head_decision": "include", "head_reason": "", "head_order_number": "45-о"}
REGISTERED = {
    "register_entry_number": "ММА-12",
    "register_publication_url": "https://mmc-gatchina.example.ru/mma",
    "register_publication_date": "2026-04-01",
}


def _start(api: ApiClient, **changes: Any) -> Flow:
    return Flow(api, "mma_selection").start(APPLICANT, UNIT, application(**changes))


def _grants(api: ApiClient, username: str) -> list[tuple[str, str]]:
    me = api.get("/me", username).get_json()
    return sorted((g["role"], g["org_unit_slug"]) for g in me["grants"])


def _register(api: ApiClient, user: str, unit: str = UNIT) -> Any:
    return api.get(f"/register/mma?municipality={unit}", user)


def _csv_rows(api: ApiClient, user: str) -> list[list[str]]:
    resp = api.get(f"/register/mma.csv?municipality={UNIT}", user)
    assert resp.status_code == 200, resp.get_json()
    assert resp.mimetype == "text/csv"
    text = resp.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def _through_diagnostics(flow: Flow) -> None:
    flow.complete("Task_check", METHODIST, CONFIRMED)
    assert flow.open_tasks() == ["Task_diagnostics"]
    flow.complete("Task_diagnostics", REGIONAL, PASSED)
    assert flow.open_tasks() == ["Task_head_decision"]


def test_self_application_included_in_the_register(api: ApiClient) -> None:
    assert ("mma_member", UNIT) not in _grants(api, APPLICANT)
    flow = _start(api)
    assert flow.open_tasks() == ["Task_check"]
    _through_diagnostics(flow)
    flow.complete("Task_head_decision", HEAD, INCLUDE)
    # The role is granted by the decision, before the register entry is published.
    assert ("mma_member", UNIT) in _grants(api, APPLICANT)
    assert flow.open_tasks() == ["Task_register"]
    listed = _register(api, METHODIST).get_json()
    assert [(e["username"], e["entry_number"]) for e in listed["items"]] == [(APPLICANT, None)]

    flow.complete("Task_register", METHODIST, REGISTERED)
    assert flow.status == "completed"
    data = flow.final_data()
    assert data["eligibility_failed"] == [] and data["eligible"] is True
    assert data["mma_role_grant"] == {"granted": True}
    assert data["included_notification"] == {"sent": 1}
    [included] = [n for n in flow.notifications() if n["recipients"] == [APPLICANT]]
    assert "ММА-12" in included["message"]
    granted = [e for e in flow.history() if e["kind"] == "role_granted"]
    assert [(e["actor"], e["payload"]["username"], e["payload"]["role"]) for e in granted] == [
        (HEAD, APPLICANT, "mma_member")
    ]
    assert flow.kinds()[-1] == "instance_completed"

    register = _register(api, "region_official.lenobl").get_json()
    assert register["total"] == 1 and register["municipality"] == UNIT
    [entry] = register["items"]
    assert entry["username"] == APPLICANT
    assert entry["school_slug"] == SCHOOL
    assert entry["source_instance_id"] == flow.id
    assert entry["entry_number"] == "ММА-12"
    assert entry["included_at"]
    rows = _csv_rows(api, HEAD)
    assert rows[0][:4] == ["№ п/п", "ФИО", "Пользователь", "Образовательная организация"]
    assert rows[1][2] == APPLICANT and rows[1][3] == "МБОУ «Гатчинская СОШ № 1»"
    assert rows[1][5] == "ММА-12" and rows[1][6] == str(flow.id)
    exports = api.get("/audit?kind=mma_register_exported", "auditor").get_json()
    assert exports["total"] == 1 and exports["items"][0]["actor"] == HEAD
    verify_audit_chain(api)


def test_register_is_visible_in_the_municipality_and_region_only(api: ApiClient) -> None:
    flow = _start(api)
    _through_diagnostics(flow)
    flow.complete("Task_head_decision", HEAD, INCLUDE)
    for reader in ("teacher.gatchina-school-2", "municipal_head.gatchina", "auditor"):
        assert _register(api, reader).get_json()["total"] == 1, reader
    for outsider in ("mms_head.luga", "teacher.luga-school-1"):
        assert _register(api, outsider).status_code == 403, outsider
        csv_resp = api.get(f"/register/mma.csv?municipality={UNIT}", outsider)
        assert csv_resp.status_code == 403
    assert _register(api, "mms_head.luga", "luga").get_json()["total"] == 0
    assert _register(api, HEAD, "nowhere").status_code == 404
    assert _register(api, HEAD, SCHOOL).status_code == 404  # a school has no register
    assert api.get("/register/mma", HEAD).status_code == 422
    paged = api.get(f"/register/mma?municipality={UNIT}&page=2&per_page=1", HEAD).get_json()
    assert paged["total"] == 1 and paged["items"] == [] and paged["page"] == 2


def test_nomination_confirmed_by_the_director(api: ApiClient) -> None:
    flow = _start(api, application_kind="nomination", nominator_username=DIRECTOR)
    assert flow.open_tasks() == ["Task_nomination_confirm"]
    flow.complete(
        "Task_nomination_confirm",
        DIRECTOR,
        {"nomination_confirmed": True, "nomination_recommendation": "Рекомендую"},
    )
    _through_diagnostics(flow)
    flow.complete("Task_head_decision", HEAD, INCLUDE)
    flow.complete("Task_register", METHODIST, REGISTERED)
    assert flow.status == "completed"
    assert flow.final_data()["nomination_recommendation"] == "Рекомендую"
    assert ("mma_member", UNIT) in _grants(api, APPLICANT)


def test_nomination_not_confirmed(api: ApiClient) -> None:
    flow = _start(api, application_kind="nomination", nominator_username=DIRECTOR)
    errors = flow.refused(
        "Task_nomination_confirm",
        DIRECTOR,
        {"nomination_confirmed": False, "nomination_recommendation": ""},
    )
    assert "nomination_recommendation" in errors
    flow.complete(
        "Task_nomination_confirm",
        DIRECTOR,
        {"nomination_confirmed": False, "nomination_recommendation": "Стаж в школе мал"},
    )
    assert flow.status == "completed"
    [message] = flow.notifications()
    assert message["recipients"] == [APPLICANT] and "Стаж в школе мал" in message["message"]
    assert flow.final_data()["not_nominated_notification"] == {"sent": 1}
    assert ("mma_member", UNIT) not in _grants(api, APPLICANT)
    kinds = flow.kinds()
    assert "task_offered" not in kinds[kinds.index("task_completed") :]


def test_nomination_needs_a_nominator(api: ApiClient) -> None:
    resp = api.post(
        "/instances",
        APPLICANT,
        json={
            "process_key": "mma_selection",
            "org_unit_id": api.unit_id(UNIT),
            "data": application(application_kind="nomination", nominator_username=""),
        },
    )
    assert resp.status_code == 422 and "nominator_username" in resp.get_json()["errors"]


def test_clarification_loop(api: ApiClient) -> None:
    flow = _start(api, pedagogical_experience_years=4)
    flow.complete(
        "Task_check",
        METHODIST,
        {"check_result": "return", "check_comment": "Стаж по трудовой книжке — 6 лет"},
    )
    assert flow.open_tasks() == ["Task_clarify"]
    shown = flow.task_data("Task_clarify", APPLICANT)
    assert shown["review_history"] == [
        {
            "step": "mms_methodist_check",
            "decision": "return",
            "comment": "Стаж по трудовой книжке — 6 лет",
        }
    ]
    flow.complete(
        "Task_clarify",
        APPLICANT,
        {
            "has_higher_pedagogical_education": True,
            "pedagogical_experience_years": 6,
            "qualification_category": "highest",
            "contributions": ["other"],
            "contributions_details": "Руководитель районной площадки",
            "clarify_comment": "Исправлено",
        },
    )
    assert flow.open_tasks() == ["Task_check"]  # checked again after every clarification
    flow.complete("Task_check", METHODIST, {"check_result": "return", "check_comment": "Ещё"})
    flow.complete(
        "Task_clarify",
        APPLICANT,
        {
            "has_higher_pedagogical_education": True,
            "pedagogical_experience_years": 6,
            "qualification_category": "highest",
            "contributions": ["other"],
            "contributions_details": "Руководитель районной площадки",
            "clarify_comment": "",
        },
    )
    _through_diagnostics(flow)
    flow.complete("Task_head_decision", HEAD, INCLUDE)
    flow.complete("Task_register", METHODIST, REGISTERED)
    data = flow.final_data()
    assert data["pedagogical_experience_years"] == 6
    assert [h["decision"] for h in data["review_history"]] == ["return", "return"]


CRITERIA = {
    "education": (
        {"has_higher_pedagogical_education": False},
        ["«высшее педагогическое образование»"],
    ),
    "experience": (
        {"pedagogical_experience_years": 3},
        ["«педагогический стаж не менее пяти лет»: указан стаж 3 (лет)"],
    ),
    "category": ({"qualification_category": "first"}, ["«высшая квалификационная категория»"]),
    "contribution": (
        {"contributions": []},
        ["«вклад в совершенствование муниципальной системы образования»"],
    ),
    "all": (
        {
            "has_higher_pedagogical_education": False,
            "pedagogical_experience_years": 0,
            "qualification_category": "none",
            "contributions": [],
        },
        ["образование", "стаж 0 (лет)", "категория", "вклад"],
    ),
}


@pytest.mark.parametrize("criterion", list(CRITERIA))
def test_failed_criteria_are_shown_to_the_applicant(api: ApiClient, criterion: str) -> None:
    changes, phrases = CRITERIA[criterion]
    flow = _start(api, **changes)
    flow.complete("Task_check", METHODIST, CONFIRMED)
    assert flow.open_tasks() == ["Task_result_ack"]
    failed = flow.task_data("Task_result_ack", APPLICANT)["eligibility_failed"]
    assert len(failed) == len(phrases)
    for sentence, phrase in zip(failed, phrases, strict=True):
        assert sentence.startswith("Не выполнен критерий"), sentence
        assert phrase in sentence, (phrase, sentence)
    flow.complete("Task_result_ack", APPLICANT, {"result_acknowledged": True})
    assert flow.status == "completed"
    assert flow.final_data()["eligible"] is False
    assert "Task_diagnostics" not in [
        e["payload"]["bpmn_id"] for e in flow.history() if e["kind"] == "task_offered"
    ]
    assert ("mma_member", UNIT) not in _grants(api, APPLICANT)


@pytest.mark.parametrize(
    ("diagnostics", "training_required", "reason"),
    [
        ({"diagnostics_passed": False}, False, "Диагностика профессиональных компетенций не"),
        ({"diagnostics_training_completed": False}, True, "Не пройдено повышение квалификации"),
    ],
    ids=["diagnostics_failed", "training_missing"],
)
def test_diagnostics_not_passed(
    api: ApiClient, diagnostics: dict[str, Any], training_required: bool, reason: str
) -> None:
    flow = _start(api, require_training_before_inclusion=training_required)
    flow.complete("Task_check", METHODIST, CONFIRMED)
    flow.complete("Task_diagnostics", REGIONAL, {**PASSED, **diagnostics})
    assert flow.open_tasks() == ["Task_result_ack"]
    [sentence] = flow.task_data("Task_result_ack", APPLICANT)["eligibility_failed"]
    assert sentence.startswith(reason)
    flow.complete("Task_result_ack", APPLICANT, {"result_acknowledged": True})
    assert flow.status == "completed"


def test_training_not_required_lets_the_candidate_through(api: ApiClient) -> None:
    flow = _start(api)  # require_training_before_inclusion defaults to false
    flow.complete("Task_check", METHODIST, CONFIRMED)
    flow.complete("Task_diagnostics", REGIONAL, {**PASSED, "diagnostics_training_completed": False})
    assert flow.open_tasks() == ["Task_head_decision"]


def test_head_rejects(api: ApiClient) -> None:
    flow = _start(api)
    _through_diagnostics(flow)
    flow.complete(
        "Task_head_decision",
        HEAD,
        {
            "head_decision": "reject",
            "head_reason": "Состав ММА укомплектован",
            "head_order_number": "",
        },
    )
    assert flow.status == "completed"
    [message] = flow.notifications()
    assert message["recipients"] == [APPLICANT]
    assert "Состав ММА укомплектован" in message["message"]
    assert ("mma_member", UNIT) not in _grants(api, APPLICANT)
    assert _register(api, HEAD).get_json()["total"] == 0
    assert "role_granted" not in flow.kinds()


def test_register_lists_each_member_once(api: ApiClient) -> None:
    other = "teacher.gatchina-school-2"
    for applicant in (APPLICANT, other, APPLICANT):
        flow = Flow(api, "mma_selection").start(
            applicant, UNIT, application(applicant_username=applicant)
        )
        _through_diagnostics(flow)
        flow.complete("Task_head_decision", HEAD, INCLUDE)
        flow.complete(
            "Task_register", METHODIST, {**REGISTERED, "register_entry_number": str(flow.id)}
        )
        assert flow.status == "completed"
    register = _register(api, METHODIST).get_json()
    assert register["total"] == 2
    assert [(e["number"], e["username"], e["school_slug"]) for e in register["items"]] == [
        (1, APPLICANT, SCHOOL),
        (2, other, "gatchina-school-2"),
    ]
    assert [row[2] for row in _csv_rows(api, METHODIST)[1:]] == [APPLICANT, other]


@pytest.mark.parametrize(
    ("changes", "field", "user"),
    [
        ({"applicant_username": "no.such.user"}, "applicant_username", "no.such.user"),
        (
            {"applicant_username": "teacher.luga-school-1"},
            "applicant_username",
            "teacher.luga-school-1",
        ),
        (
            {"application_kind": "nomination", "nominator_username": TEACHER_2},
            "nominator_username",
            TEACHER_2,
        ),
        (
            {"application_kind": "nomination", "nominator_username": "director.luga-school-1"},
            "nominator_username",
            "director.luga-school-1",
        ),
    ],
    ids=[
        "unknown-applicant",
        "applicant-elsewhere",
        "nominator-not-director",
        "director-elsewhere",
    ],
)
def test_named_users_must_work_in_the_municipality(
    api: ApiClient, changes: dict[str, Any], field: str, user: str
) -> None:
    resp = api.post(
        "/instances",
        APPLICANT,
        json={
            "process_key": "mma_selection",
            "org_unit_id": api.unit_id(UNIT),
            "data": application(**changes),
        },
    )
    assert resp.status_code == 422, resp.get_json()
    [message] = resp.get_json()["errors"][field]
    assert f"«{user}» не найден" in message
    assert api.get("/audit?kind=instance_started", "auditor").get_json()["total"] == 0
