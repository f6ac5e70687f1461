"""The role catalog of DOMAIN.md: lane names in BPMN are these codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    """A role of the catalog with its tier (None: any tier)."""

    code: str
    title: str
    tier: str | None


ROLES: dict[str, Role] = {
    r.code: r
    for r in [
        Role(
            "region_official", "Специалист регионального органа управления образованием", "region"
        ),
        Role("cnppm_head", "Руководитель ЦНППМ", "region"),
        Role("regional_methodist", "Региональный методист", "region"),
        Role("attestation_commission", "Член региональной аттестационной комиссии", "region"),
        Role(
            "municipal_head",
            "Руководитель муниципального органа управления образованием",
            "municipality",
        ),
        Role("mms_head", "Руководитель ММС", "municipality"),
        Role("mms_methodist", "Методист ММС", "municipality"),
        Role("municipal_council", "Член муниципального методического совета", "municipality"),
        Role("mma_member", "Член ММА (муниципальный методист)", "municipality"),
        Role("director", "Руководитель образовательной организации", "institution"),
        Role("deputy_director", "Заместитель руководителя по УВР/НМР", "institution"),
        Role("methodical_council", "Член методического совета ОО", "institution"),
        Role("mo_head", "Руководитель методического объединения", "institution"),
        Role("teacher", "Педагогический работник", "institution"),
        Role("process_designer", "Разработчик процессов", None),
        Role("auditor", "Аудитор / контролёр", None),
        Role("admin", "Администратор", None),
    ]
}

SUPERVISORY_ROLES = frozenset({"auditor", "admin"})
# Holders of these roles oversee the open work in every unit under the one where they hold it.
# The head of ЦНППМ coordinates the regional system (seed 000 §3.3) and reads its monitoring.
ZONE_ROLES = frozenset(
    {
        "mms_head",
        "municipal_head",
        "director",
        "region_official",
        "cnppm_head",
        "admin",
        "auditor",
    }
)
