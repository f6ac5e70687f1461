"""Small builders of valid form data for the demo processes."""

from __future__ import annotations

from typing import Any


def mo_plan(**overrides: Any) -> dict[str, Any]:
    """A valid МО plan draft."""
    plan: dict[str, Any] = {
        "school_year": "2026/2027",
        "mo_name": "МО учителей математики",
        "mo_kind": "subject",
        "theme": "Формирование функциональной грамотности",
        "goal": "Повышение качества преподавания математики",
        "tasks": ["Освоение новых ФГОС", "Подготовка к ГИА"],
        "members": [
            {"full_name": "Иванова Анна Петровна", "subject": "Математика", "position": "Учитель"},
            {"full_name": "Петров Сергей Иванович", "subject": "Математика", "position": "Учитель"},
            {
                "full_name": "Сидорова Мария Олеговна",
                "subject": "Информатика",
                "position": "Учитель",
            },
        ],
        "meetings": [
            {"planned_date": "2026-09-10", "topic": "Утверждение плана"},
            {"planned_date": "2026-11-12", "topic": "Итоги первой четверти"},
            {"planned_date": "2027-01-20", "topic": "Подготовка к ГИА"},
            {"planned_date": "2027-05-25", "topic": "Итоги года"},
        ],
        "events": [],
    }
    plan.update(overrides)
    return plan
