"""UI labels of codes stored in the database (statuses, audit event kinds, due states)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from ..services.roles import ROLES

INSTANCE_STATUS: dict[str, Any] = {
    "running": _l("Выполняется"),
    "waiting": _l("Ожидает срока или события"),
    "completed": _l("Завершён"),
    "error": _l("Ошибка"),
    "terminated": _l("Прекращён"),
}
STATUS_BADGE = {
    "running": "text-bg-primary",
    "waiting": "text-bg-info",
    "completed": "text-bg-success",
    "error": "text-bg-danger",
    "terminated": "text-bg-secondary",
}
TASK_STATUS: dict[str, Any] = {
    "open": _l("Ожидает выполнения"),
    "completed": _l("Выполнена"),
    "cancelled": _l("Отменена"),
}
EVENT_KIND: dict[str, Any] = {
    "instance_started": _l("Процесс запущен"),
    "instance_completed": _l("Процесс завершён"),
    "task_offered": _l("Задача поставлена"),
    "task_claimed": _l("Задача взята в работу"),
    "task_unclaimed": _l("Задача возвращена в общий список"),
    "task_delegated": _l("Задача передана"),
    "task_reassigned": _l("Задача переназначена администратором"),
    "task_reoffered": _l("Задача предложена заново"),
    "task_completed": _l("Задача выполнена"),
    "task_cancelled": _l("Задача отменена"),
    "task_draft_saved": _l("Черновик формы сохранён"),
    "task_draft_discarded": _l("Черновик формы удалён"),
    "comment_added": _l("Добавлен комментарий"),
    "attachment_added": _l("Добавлен файл"),
}
TIER: dict[str, Any] = {
    "region": _l("регион"),
    "municipality": _l("муниципалитет"),
    "institution": _l("образовательная организация"),
}
TABS: dict[str, Any] = {
    "mine": _l("Мои задачи"),
    "available": _l("Доступные"),
    "zone": _l("Все в моей зоне"),
}
DUE: dict[str, Any] = {
    "overdue": _l("Просрочены"),
    "today": _l("Срок сегодня"),
    "none": _l("Без срока"),
}


# The catalogue's role titles (app.services.roles) in the UI language; the services keep
# the Russian titles for documents, notifications and audit.
ROLE_TITLES: dict[str, Any] = {
    "region_official": _l("Специалист регионального органа управления образованием"),
    "cnppm_head": _l("Руководитель ЦНППМ"),
    "regional_methodist": _l("Региональный методист"),
    "attestation_commission": _l("Член региональной аттестационной комиссии"),
    "municipal_head": _l("Руководитель муниципального органа управления образованием"),
    "mms_head": _l("Руководитель ММС"),
    "mms_methodist": _l("Методист ММС"),
    "municipal_council": _l("Член муниципального методического совета"),
    "mma_member": _l("Член ММА (муниципальный методист)"),
    "director": _l("Руководитель образовательной организации"),
    "deputy_director": _l("Заместитель руководителя по УВР/НМР"),
    "methodical_council": _l("Член методического совета ОО"),
    "mo_head": _l("Руководитель методического объединения"),
    "teacher": _l("Педагогический работник"),
    "process_designer": _l("Разработчик процессов"),
    "auditor": _l("Аудитор / контролёр"),
    "admin": _l("Администратор"),
}


def role_title(code: str | None) -> str:
    """The title of a role code in the UI language (the code itself if unknown)."""
    if not code:
        return ""
    if code in ROLE_TITLES:
        return str(ROLE_TITLES[code])
    role = ROLES.get(code)
    return role.title if role else code


def template_labels() -> dict[str, Any]:
    """The label tables for the templates."""
    return {
        "INSTANCE_STATUS": INSTANCE_STATUS,
        "STATUS_BADGE": STATUS_BADGE,
        "TASK_STATUS": TASK_STATUS,
        "EVENT_KIND": EVENT_KIND,
        "TIER": TIER,
        "TABS": TABS,
        "DUE": DUE,
        "role_title": role_title,
    }
