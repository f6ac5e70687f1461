"""The authorization matrix of the REST API: who may call which endpoint, in and out of scope.

The table below is both the documentation and the test: docs/authorization-matrix.md is
generated from it (`python -m tests.security.authz_matrix > docs/authorization-matrix.md`),
and tests/security/test_authorization_matrix.py calls every endpoint of the OpenAPI spec as
every role of the catalogue, once holding the role in the scope of the object the call is
about and once holding it at a sibling unit outside that scope (plus once anonymously).

The objects live at the school `gatchina-school-1` («Гатчинская СОШ № 1»): an instance of
`mo_plan_approval` started there by its МО head, whose first task waits for the МО head.
In scope means holding the role on the path from that school to the root (school roles at
the school, municipal roles at `gatchina`, region-wide and any-tier roles at `lenobl`);
out of scope means the same role at `luga-school-1`, `luga` or a second region `pskov`.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.services.roles import ROLES
from tests.factories import mo_plan
from tests.security.helpers import parallel_bundle

SCHOOL = "gatchina-school-1"
PARALLEL = "reliability_parallel"
MO_HEAD = f"mo_head.{SCHOOL}"
TIER_UNITS = {
    "institution": ("gatchina-school-1", "luga-school-1"),
    "municipality": ("gatchina", "luga"),
    "region": ("lenobl", "pskov"),
}
DEMO_NAMES = {"process_designer": "designer", "auditor": "auditor", "admin": "admin"}
SCOPES = ("in", "out")
ROLE_CODES = list(ROLES)
LANES = ("mo_head", "methodical_council", "director", "deputy_director")
SUPERVISORS = ("auditor", "admin")
# Zone roles (app.services.roles.ZONE_ROLES) other than the supervisors: they read the
# instances of their zone (the inbox tab «Все в моей зоне») but take no part in them.
HEADS = ("region_official", "cnppm_head", "municipal_head", "mms_head", "director")
MONITORING_ROLES = ("region_official", "cnppm_head", "municipal_head", "mms_head", "director")

Cell = tuple[str, str]  # (role, scope)


def unit_of(role: str, scope: str) -> str:
    """The unit where the principal (role, scope) holds its role."""
    tier = ROLES[role].tier or "region"
    return TIER_UNITS[tier][SCOPES.index(scope)]


def username(role: str, scope: str) -> str:
    """The user acting as (role, scope): a demo user, or one the test fixture adds."""
    if scope == "in" and role in DEMO_NAMES:
        return DEMO_NAMES[role]
    return f"{role}.{unit_of(role, scope)}"


PRINCIPALS: list[Cell] = [(role, scope) for role in ROLE_CODES for scope in SCOPES]


# --- rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """`ok` for the allowed cells, `denied` for the others, `exceptions` where it differs."""

    ok: int
    allowed: frozenset[Cell]
    denied: int
    exceptions: tuple[tuple[Cell, int], ...] = ()
    anonymous: int = 401

    def expected(self, role: str, scope: str) -> int:
        for cell, status in self.exceptions:
            if cell == (role, scope):
                return status
        return self.ok if (role, scope) in self.allowed else self.denied


def cells(roles: tuple[str, ...] | list[str], scopes: tuple[str, ...] = ("in",)) -> frozenset[Cell]:
    return frozenset((r, s) for r in roles for s in scopes)


def everyone(ok: int = 200) -> Rule:
    """Any logged-in user (the answer itself is limited to what the user may see)."""
    return Rule(ok, frozenset(PRINCIPALS), ok)


def only(
    roles: tuple[str, ...], ok: int = 200, *, anywhere: bool = True, denied: int = 403
) -> Rule:
    """Holders of the roles (at any unit when anywhere, else only in scope)."""
    scopes = SCOPES if anywhere else ("in",)
    return Rule(ok, cells(roles, scopes), denied)


def instance_readers(ok: int = 200) -> Rule:
    """Participants, lane roles, supervisors and zone heads in scope; others get 404."""
    return Rule(ok, cells(LANES + SUPERVISORS + HEADS), 404)


def instance_contributors(ok: int = 201) -> Rule:
    """Participants and lane roles in scope; readers who take no part get 403, others 404."""
    readers_only = [r for r in SUPERVISORS + HEADS if r not in LANES]
    return Rule(ok, cells(LANES), 404, tuple(((r, "in"), 403) for r in readers_only))


def task_actor(ok: int = 200) -> Rule:
    """The user the task is offered to; supervisors in scope see the task but may not act."""
    return Rule(ok, cells(("mo_head",)), 404, tuple(((r, "in"), 403) for r in SUPERVISORS))


def task_readers(ok: int = 200) -> Rule:
    """The user the task is offered to and supervisors in scope."""
    return Rule(ok, cells(("mo_head",) + SUPERVISORS), 404)


# --- requests ------------------------------------------------------------------------------


@dataclass
class Call:
    """One request of a cell: path with query, body, and which token to send."""

    path: str
    json: Any = None
    data: Any = None
    content_type: str | None = None
    auth: str = "token"  # token | fresh-token | none


class World:
    """The objects the matrix acts on, created through the API as their rightful users."""

    def __init__(self, api: Any, password: str) -> None:
        self.api = api
        self.password = password
        # A cell expected to succeed gets new objects (it changes them); a cell expected to be
        # refused reuses one shared object per kind, so a wrongly allowed call shows anyway.
        self.fresh = True
        self._cache: dict[str, int] = {}
        self.unit = {
            slug: api.unit_id(slug) for slug in ("gatchina-school-1", "gatchina", "lenobl")
        }
        self.shared = self.instance()
        self.shared_task = self.shared["tasks"][0]["id"]
        self.attachment = self._attach(self.shared["id"])
        notes = api.get("/notifications", MO_HEAD).get_json()
        self.notification = notes["items"][0]["id"] if notes.get("items") else 999_999
        self.target_user = self.user()
        for suffix in ("", ", версия 2"):  # two versions of a small process for designers
            files = [(_bytes(c), n) for n, c in parallel_bundle(suffix)]
            resp = api.post(
                "/processes", "designer", data={"files": files}, content_type="multipart/form-data"
            )
            assert resp.status_code == 201, resp.get_json()

    def bundle(self) -> dict[str, Any]:
        """The small parallel test process with its forms, as multipart files."""
        return {"files": [(_bytes(content), name) for name, content in parallel_bundle()]}

    def instance(self) -> dict[str, Any]:
        resp = self.api.post(
            "/instances",
            MO_HEAD,
            json={"process_key": "mo_plan_approval", "org_unit_id": self.unit[SCHOOL]},
        )
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    def _once(self, kind: str, make: Callable[[], int]) -> int:
        if self.fresh:
            return make()
        if kind not in self._cache:
            self._cache[kind] = make()
        return self._cache[kind]

    def task(self) -> int:
        return self._once("task", lambda: int(self.instance()["tasks"][0]["id"]))

    def claimed_task(self) -> int:
        def make() -> int:
            task = int(self.instance()["tasks"][0]["id"])
            assert self.api.post(f"/tasks/{task}/claim", MO_HEAD).status_code == 200
            return task

        return self._once("claimed_task", make)

    def _attach(self, instance_id: int) -> int:
        resp = self.api.post(
            f"/instances/{instance_id}/attachments",
            MO_HEAD,
            data={"file": (_bytes(b"plan"), "plan.txt")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 201, resp.get_json()
        return int(resp.get_json()["id"])

    def user(self, grant: bool = True) -> int:
        """A new user (a teacher of the school unless grant is False), created by the admin."""
        return self._once(f"user-{grant}", lambda: self._new_user(grant))

    def _new_user(self, grant: bool) -> int:
        name = f"matrix-{uuid.uuid4().hex[:10]}"
        resp = self.api.post(
            "/admin/users", "admin", json={"username": name, "password": "Matrix-pass-12345"}
        )
        assert resp.status_code in (200, 201), resp.get_json()
        user_id = int(resp.get_json()["user"]["id"])
        if grant:
            self.grant(user_id)
        return user_id

    def grant(self, user_id: int) -> int:
        resp = self.api.post(
            "/admin/grants",
            "admin",
            json={
                "user_id": user_id,
                "role": "teacher",
                "org_unit_id": self.unit[SCHOOL],
                "reason": "матрица доступа",
            },
        )
        assert resp.status_code in (200, 201), resp.get_json()
        return int(resp.get_json()["id"])

    def inactive_user(self) -> int:
        def make() -> int:
            user_id = self._new_user(True)
            resp = self.api.post(
                f"/admin/users/{user_id}/deactivate", "admin", json={"reason": "отпуск"}
            )
            assert resp.status_code == 200, resp.get_json()
            return user_id

        return self._once("inactive_user", make)

    def revocable_grant(self) -> int:
        return self._once("grant", lambda: self.grant(self._new_user(False)))

    def school(self) -> int:
        """A new school under gatchina, created by the admin."""
        return self._once("school", self._new_school)

    def _new_school(self) -> int:
        resp = self.api.post(
            "/admin/org-units",
            "admin",
            json={
                "slug": f"matrix-{uuid.uuid4().hex[:8]}",
                "name": "Школа матрицы доступа",
                "tier": "institution",
                "parent_id": self.unit["gatchina"],
            },
        )
        assert resp.status_code in (200, 201), resp.get_json()
        return int(resp.get_json()["id"])

    def substitution(self) -> int:
        return self._once("substitution", self._new_substitution)

    def _new_substitution(self) -> int:
        resp = self.api.post("/admin/substitutions", "admin", json=self.substitution_body())
        assert resp.status_code in (200, 201), resp.get_json()
        return int(resp.get_json()["id"])

    def substitution_body(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "away_user_id": self._new_user(True),
            "substitute_id": self._new_user(True),
            "valid_from": now.isoformat(),
            "valid_to": (now + timedelta(days=7)).isoformat(),
            "reason": "отпуск",
        }


def _bytes(content: bytes) -> Any:
    return io.BytesIO(content)


def _csv_upload() -> dict[str, Any]:
    text = "slug,name,tier,parent_slug\n"
    return {"file": (_bytes(text.encode()), "units.csv"), "dry_run": "1"}


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One endpoint: its rule, how a cell calls it, and what the rule means in words."""

    method: str
    path: str
    rule: Rule
    call: Callable[[World, str], Call]
    summary: str

    @property
    def auditor_read_only(self) -> bool:
        """Writes outside the own account are refused to auditors, whatever the object."""
        own = ("/api/v1/auth/", "/api/v1/me/", "/api/v1/notifications/")
        return self.method != "GET" and not (self.path.rstrip("/") + "/").startswith(own)

    def expected(self, role: str, scope: str) -> int:
        if role == "auditor" and self.auditor_read_only:
            return 403
        return self.rule.expected(role, scope)


def _instance_path(suffix: str = "") -> Callable[[World, str], Call]:
    return lambda w, u: Call(f"/instances/{w.shared['id']}{suffix}")


ROWS: list[Row] = [
    Row(
        "POST",
        "/api/v1/auth/token",
        Rule(200, frozenset(PRINCIPALS), 200, anonymous=401),
        lambda w, u: Call("/auth/token", json={"username": u, "password": w.password}, auth="none"),
        "Вход по имени и паролю: любой пользователь со своим паролем; без пароля — 401.",
    ),
    Row(
        "DELETE",
        "/api/v1/auth/token",
        everyone(204),
        lambda w, u: Call("/auth/token", auth="fresh-token"),
        "Отзыв своего токена (выход).",
    ),
    Row(
        "POST",
        "/api/v1/auth/password-setup",
        Rule(401, frozenset(PRINCIPALS), 401, anonymous=401),
        lambda w, u: Call(
            "/auth/password-setup", json={"token": "not-a-token", "password": "x" * 12}
        ),
        "Установка пароля по одноразовому токену из письма: доступна без входа; "
        "неверный токен — отказ.",
    ),
    Row("GET", "/api/v1/me", everyone(), lambda w, u: Call("/me"), "Свой профиль и роли."),
    Row(
        "GET",
        "/api/v1/me/data",
        everyone(),
        lambda w, u: Call("/me/data"),
        "Свои персональные данные (выгрузка субъекта ПДн).",
    ),
    Row(
        "GET",
        "/api/v1/me/notification-settings",
        everyone(),
        lambda w, u: Call("/me/notification-settings"),
        "Свои настройки уведомлений.",
    ),
    Row(
        "PUT",
        "/api/v1/me/notification-settings",
        everyone(),
        lambda w, u: Call("/me/notification-settings", json={"channel": "in_app"}),
        "Изменение своих настроек уведомлений.",
    ),
    Row(
        "GET",
        "/api/v1/org-units",
        everyone(),
        lambda w, u: Call("/org-units"),
        "Дерево организаций (справочник).",
    ),
    Row(
        "GET",
        "/api/v1/processes",
        everyone(),
        lambda w, u: Call("/processes"),
        "Список развёрнутых процессов (справочник).",
    ),
    Row(
        "POST",
        "/api/v1/processes",
        only(("process_designer", "admin"), 201),
        lambda w, u: Call("/processes", data=w.bundle(), content_type="multipart/form-data"),
        "Развёртывание процесса: разработчик процессов и администратор (версии процессов "
        "общие для региона, поэтому на любом уровне).",
    ),
    Row(
        "POST",
        "/api/v1/processes/validate",
        only(("process_designer", "admin")),
        lambda w, u: Call(
            "/processes/validate", data=w.bundle(), content_type="multipart/form-data"
        ),
        "Проверка файлов без развёртывания: разработчик процессов и администратор.",
    ),
    Row(
        "GET",
        "/api/v1/processes/{key}/versions",
        only(("process_designer", "admin")),
        lambda w, u: Call(f"/processes/{PARALLEL}/versions"),
        "История версий процесса: разработчик процессов и администратор.",
    ),
    Row(
        "GET",
        "/api/v1/processes/{key}/versions/{number}",
        only(("process_designer", "admin")),
        lambda w, u: Call(f"/processes/{PARALLEL}/versions/1"),
        "Файлы версии процесса: разработчик процессов и администратор.",
    ),
    Row(
        "GET",
        "/api/v1/processes/{key}/compare",
        only(("process_designer", "admin")),
        lambda w, u: Call(f"/processes/{PARALLEL}/compare?from=1&to=2"),
        "Сравнение версий: разработчик процессов и администратор.",
    ),
    Row(
        "POST",
        "/api/v1/processes/{key}/migrate",
        only(("process_designer", "admin")),
        lambda w, u: Call(
            f"/processes/{PARALLEL}/migrate",
            json={"from_version": 1, "to_version": 2, "dry_run": True},
        ),
        "Перевод экземпляров на другую версию (здесь — пробный прогон): разработчик "
        "процессов и администратор.",
    ),
    Row(
        "POST",
        "/api/v1/instances",
        Rule(201, cells(("mo_head",)), 403),
        lambda w, u: Call(
            "/instances",
            json={"process_key": "mo_plan_approval", "org_unit_id": w.unit[SCHOOL]},
        ),
        "Запуск процесса: только роль стартовой дорожки (mo_head) в этой организации.",
    ),
    Row(
        "GET",
        "/api/v1/instances/{instance_id}",
        instance_readers(),
        _instance_path(),
        "Экземпляр: участники, роли дорожек процесса в области, аудитор/администратор "
        "и руководители зоны (region_official, municipal_head, mms_head, director) выше по "
        "дереву — только чтение; остальным он «не существует» (404).",
    ),
    Row(
        "GET",
        "/api/v1/instances/{instance_id}/history",
        instance_readers(),
        _instance_path("/history"),
        "История экземпляра: как сам экземпляр.",
    ),
    Row(
        "GET",
        "/api/v1/instances/{instance_id}/timeline",
        instance_readers(),
        _instance_path("/timeline"),
        "Хронология экземпляра: как сам экземпляр.",
    ),
    Row(
        "GET",
        "/api/v1/instances/{instance_id}/signatures",
        instance_readers(),
        _instance_path("/signatures"),
        "Подписи документа экземпляра: как сам экземпляр.",
    ),
    Row(
        "GET",
        "/api/v1/instances/{instance_id}/attachments",
        instance_readers(),
        _instance_path("/attachments"),
        "Вложения экземпляра: как сам экземпляр.",
    ),
    Row(
        "POST",
        "/api/v1/instances/{instance_id}/attachments",
        instance_contributors(),
        lambda w, u: Call(
            f"/instances/{w.shared['id']}/attachments",
            data={"file": (_bytes(b"note"), "note.txt")},
            content_type="multipart/form-data",
        ),
        "Добавить вложение: участники и роли дорожек процесса в области; аудитор, "
        "администратор и руководители зоны видят экземпляр, но получают 403.",
    ),
    Row(
        "GET",
        "/api/v1/attachments/{attachment_id}/download",
        instance_readers(),
        lambda w, u: Call(f"/attachments/{w.attachment}/download"),
        "Скачать вложение: как чтение экземпляра.",
    ),
    Row(
        "GET",
        "/api/v1/instances/{instance_id}/comments",
        instance_readers(),
        _instance_path("/comments"),
        "Комментарии экземпляра: как сам экземпляр.",
    ),
    Row(
        "POST",
        "/api/v1/instances/{instance_id}/comments",
        instance_contributors(),
        lambda w, u: Call(f"/instances/{w.shared['id']}/comments", json={"body": "Замечание"}),
        "Добавить комментарий: как добавить вложение.",
    ),
    Row(
        "GET",
        "/api/v1/tasks",
        everyone(),
        lambda w, u: Call("/tasks?scope=mine"),
        "Свои задачи (список ограничен тем, что предложено пользователю).",
    ),
    Row(
        "GET",
        "/api/v1/tasks/{task_id}",
        task_readers(),
        lambda w, u: Call(f"/tasks/{w.shared_task}"),
        "Задача: тот, кому она предложена, и аудитор/администратор в области.",
    ),
    Row(
        "POST",
        "/api/v1/tasks/{task_id}/claim",
        task_actor(),
        lambda w, u: Call(f"/tasks/{w.task()}/claim"),
        "Взять в работу: тот, кому задача предложена; аудитор/администратор видят, но "
        "действовать не могут (403).",
    ),
    Row(
        "POST",
        "/api/v1/tasks/{task_id}/unclaim",
        task_actor(),
        lambda w, u: Call(f"/tasks/{w.claimed_task()}/unclaim"),
        "Вернуть задачу: тот, кто её взял.",
    ),
    Row(
        "POST",
        "/api/v1/tasks/{task_id}/delegate",
        task_actor(),
        lambda w, u: Call(f"/tasks/{w.task()}/delegate", json={"username": f"mo_head_2.{SCHOOL}"}),
        "Передать коллеге с той же ролью: тот, кому задача предложена.",
    ),
    Row(
        "POST",
        "/api/v1/tasks/{task_id}/complete",
        task_actor(),
        lambda w, u: Call(f"/tasks/{w.task()}/complete", json={"data": mo_plan()}),
        "Выполнить задачу: тот, кому она предложена.",
    ),
    Row(
        "GET",
        "/api/v1/tasks/{task_id}/draft",
        task_actor(),
        lambda w, u: Call(f"/tasks/{w.task()}/draft"),
        "Свой черновик формы задачи: тот, кто может её выполнить сейчас (кому предложена, "
        "пока не взята другим); аудитор/администратор видят задачу, но черновика у них нет "
        "(403).",
    ),
    Row(
        "PUT",
        "/api/v1/tasks/{task_id}/draft",
        task_actor(),
        lambda w, u: Call(f"/tasks/{w.task()}/draft", json={"data": {"mo_name": "Черновик"}}),
        "Сохранить черновик формы (данные не проверяются): как чтение черновика.",
    ),
    Row(
        "DELETE",
        "/api/v1/tasks/{task_id}/draft",
        task_actor(204),
        lambda w, u: Call(f"/tasks/{w.task()}/draft"),
        "Удалить свой черновик: как чтение черновика.",
    ),
    Row(
        "GET",
        "/api/v1/notifications",
        everyone(),
        lambda w, u: Call("/notifications"),
        "Свои уведомления.",
    ),
    Row(
        "GET",
        "/api/v1/notifications/unread-count",
        everyone(),
        lambda w, u: Call("/notifications/unread-count"),
        "Число своих непрочитанных уведомлений.",
    ),
    Row(
        "POST",
        "/api/v1/notifications/{notification_id}/read",
        Rule(200, cells(("mo_head",)), 404),
        lambda w, u: Call(f"/notifications/{w.notification}/read"),
        "Отметить уведомление прочитанным: только его получатель; чужое — 404.",
    ),
    Row(
        "POST",
        "/api/v1/notifications/read-all",
        everyone(),
        lambda w, u: Call("/notifications/read-all"),
        "Отметить все свои уведомления прочитанными.",
    ),
    Row(
        "GET",
        "/api/v1/overdue",
        only(HEADS + SUPERVISORS),
        lambda w, u: Call("/overdue"),
        "Просроченные задачи в своей ветви дерева: руководители (регион, ОМСУ, ММС, "
        "директор), аудитор и администратор.",
    ),
    Row(
        "GET",
        "/api/v1/audit",
        only(SUPERVISORS),
        lambda w, u: Call("/audit"),
        "Журнал аудита: аудитор и администратор (события только своей ветви дерева).",
    ),
    Row(
        "GET",
        "/api/v1/audit/verify",
        only(SUPERVISORS),
        lambda w, u: Call("/audit/verify"),
        "Проверка цепочки хешей журнала: аудитор и администратор.",
    ),
    Row(
        "GET",
        "/api/v1/audit/export",
        only(SUPERVISORS),
        lambda w, u: Call("/audit/export?format=jsonl"),
        "Выгрузка журнала: аудитор и администратор (своя ветвь).",
    ),
    Row(
        "GET",
        "/api/v1/audit/retention",
        only(SUPERVISORS),
        lambda w, u: Call("/audit/retention"),
        "Отчёт о сроках хранения: аудитор и администратор.",
    ),
    Row(
        "GET",
        "/api/v1/register/mma",
        Rule(200, cells(ROLE_CODES), 403),
        lambda w, u: Call("/register/mma?municipality=gatchina"),
        "Реестр муниципальных методистов (ММА) муниципалитета: все, кто работает в нём "
        "или выше по дереву; другой муниципалитет — 403.",
    ),
    Row(
        "GET",
        "/api/v1/register/mma.csv",
        Rule(200, cells(ROLE_CODES), 403),
        lambda w, u: Call("/register/mma.csv?municipality=gatchina"),
        "Реестр ММА в CSV: как реестр.",
    ),
    Row(
        "GET",
        "/api/v1/monitoring",
        Rule(200, cells(MONITORING_ROLES), 403),
        lambda w, u: Call("/monitoring?municipality=gatchina"),
        "Мониторинг муниципалитета: региональный орган и ЦНППМ своего региона, руководители "
        "ОМСУ и ММС своего муниципалитета, директор — только по своей школе; другим — 403.",
    ),
    Row(
        "GET",
        "/api/v1/monitoring/instances",
        Rule(200, cells(MONITORING_ROLES), 403),
        lambda w, u: Call("/monitoring/instances?figure=overdue&municipality=gatchina"),
        "Экземпляры за числом мониторинга: как мониторинг.",
    ),
    Row(
        "GET",
        "/api/v1/admin/org-units",
        only(("admin",)),
        lambda w, u: Call("/admin/org-units"),
        "Администрирование организаций: администратор.",
    ),
    Row(
        "POST",
        "/api/v1/admin/org-units",
        only(("admin",), 201, anywhere=False),
        lambda w, u: Call(
            "/admin/org-units",
            json={
                "slug": f"m-{uuid.uuid4().hex[:8]}",
                "name": "Новая школа",
                "tier": "institution",
                "parent_id": w.unit["gatchina"],
            },
        ),
        "Создать организацию: администратор той ветви дерева, куда она входит.",
    ),
    Row(
        "PATCH",
        "/api/v1/admin/org-units/{unit_id}",
        only(("admin",), anywhere=False),
        lambda w, u: Call(f"/admin/org-units/{w.school()}", json={"name": "Переименована"}),
        "Изменить организацию: администратор своей ветви дерева.",
    ),
    Row(
        "POST",
        "/api/v1/admin/org-units/{unit_id}/close",
        only(("admin",), anywhere=False),
        lambda w, u: Call(f"/admin/org-units/{w.school()}/close", json={"reason": "реорганизация"}),
        "Закрыть организацию: администратор своей ветви дерева.",
    ),
    Row(
        "GET",
        "/api/v1/admin/users",
        everyone(),
        lambda w, u: Call("/admin/users"),
        "Справочник пользователей: всем — краткие записи (имя, ФИО, роли) для выбора "
        "коллеги; полные карточки — администратору своей ветви.",
    ),
    Row(
        "POST",
        "/api/v1/admin/users",
        only(("admin",), 201),
        lambda w, u: Call(
            "/admin/users",
            json={"username": f"m-{uuid.uuid4().hex[:10]}", "password": "Matrix-pass-12345"},
        ),
        "Создать пользователя: администратор.",
    ),
    Row(
        "GET",
        "/api/v1/admin/users/{user_id}",
        everyone(),
        lambda w, u: Call(f"/admin/users/{w.target_user}"),
        "Карточка пользователя: всем — краткая, администратору своей ветви — полная.",
    ),
    Row(
        "POST",
        "/api/v1/admin/users/{user_id}/deactivate",
        only(("admin",), anywhere=False),
        lambda w, u: Call(f"/admin/users/{w.user()}/deactivate", json={"reason": "уволен"}),
        "Отключить пользователя: администратор своей ветви дерева.",
    ),
    Row(
        "POST",
        "/api/v1/admin/users/{user_id}/activate",
        only(("admin",), anywhere=False),
        lambda w, u: Call(
            f"/admin/users/{w.inactive_user()}/activate", json={"reason": "вернулся"}
        ),
        "Включить пользователя: администратор своей ветви дерева.",
    ),
    Row(
        "POST",
        "/api/v1/admin/users/{user_id}/reset-password",
        only(("admin",), anywhere=False),
        lambda w, u: Call(f"/admin/users/{w.user()}/reset-password"),
        "Сбросить пароль (выдать токен установки): администратор своей ветви дерева.",
    ),
    Row(
        "GET",
        "/api/v1/admin/users/{user_id}/grants",
        only(("admin",), anywhere=False),
        lambda w, u: Call(f"/admin/users/{w.target_user}/grants"),
        "Назначения ролей пользователя: администратор своей ветви дерева.",
    ),
    Row(
        "POST",
        "/api/v1/admin/grants",
        only(("admin",), 201, anywhere=False),
        lambda w, u: Call(
            "/admin/grants",
            json={
                "user_id": w.target_user,
                "role": "mo_head",
                "org_unit_id": w.unit[SCHOOL],
                "reason": "назначение",
            },
        ),
        "Назначить роль: администратор своей ветви дерева.",
    ),
    Row(
        "POST",
        "/api/v1/admin/grants/{grant_id}/revoke",
        only(("admin",), anywhere=False),
        lambda w, u: Call(f"/admin/grants/{w.revocable_grant()}/revoke", json={"reason": "ошибка"}),
        "Отозвать роль: администратор своей ветви дерева.",
    ),
    Row(
        "GET",
        "/api/v1/admin/substitutions",
        only(("admin",)),
        lambda w, u: Call("/admin/substitutions"),
        "Замещения: администратор.",
    ),
    Row(
        "POST",
        "/api/v1/admin/substitutions",
        only(("admin",), 201, anywhere=False),
        lambda w, u: Call("/admin/substitutions", json=w.substitution_body()),
        "Назначить замещение: администратор своей ветви дерева.",
    ),
    Row(
        "POST",
        "/api/v1/admin/substitutions/{substitution_id}/cancel",
        only(("admin",), anywhere=False),
        lambda w, u: Call(
            f"/admin/substitutions/{w.substitution()}/cancel", json={"reason": "отменено"}
        ),
        "Отменить замещение: администратор своей ветви дерева.",
    ),
    Row(
        "GET",
        "/api/v1/admin/tasks",
        only(("admin",)),
        lambda w, u: Call("/admin/tasks"),
        "Открытые задачи для переназначения: администратор (видит задачи своей ветви).",
    ),
    Row(
        "POST",
        "/api/v1/admin/tasks/{task_id}/reassign",
        Rule(200, cells(("admin",)), 403, ((("admin", "out"), 404),)),
        lambda w, u: Call(
            f"/admin/tasks/{w.task()}/reassign", json={"username": MO_HEAD, "reason": "отпуск"}
        ),
        "Переназначить задачу держателю роли её дорожки: администратор своей ветви дерева; "
        "администратору другой ветви задача «не существует» (404).",
    ),
    Row(
        "POST",
        "/api/v1/admin/import",
        only(("admin",)),
        lambda w, u: Call("/admin/import", data=_csv_upload(), content_type="multipart/form-data"),
        "Импорт организаций и пользователей из CSV (здесь — пробный): администратор.",
    ),
]


# --- the web UI views ------------------------------------------------------------------------

# Posts of the own account: allowed to an auditor (app/web/audit/routes.py _auditors_read_only).
OWN_ACCOUNT_PAGES = ("/login", "/logout", "/language", "/notifications")
ANYONE = frozenset(PRINCIPALS)
DESIGNERS = ("process_designer", "admin")


@dataclass(frozen=True)
class WebRow:
    """One UI view: its rule (anonymous users are sent to the login page: 302), the URL a cell
    opens given the objects of the test (a World), the body it posts, and the rule in words.

    `form` is a dict or a function of the World giving (name, value) pairs, (name, (file, name))
    for uploads; `body` is "form", "json" (the editor's fetch, CSRF token in X-CSRFToken) or
    "raw" (text/plain, the same header). `session` is "shared" (one login per principal), or
    "fresh" (a new login for the cell: logging out ends it). `public` views answer anonymous
    users themselves instead of sending them to the login page."""

    method: str
    path: str
    rule: Rule
    url: Callable[[Any], str]
    form: Any
    summary: str
    body: str = "form"
    session: str = "shared"
    public: bool = False
    # Cells refused with a message on the page they are sent back to (303 and an alert), the
    # way the instance page answers a comment of a reader who takes no part.
    flash_refused: frozenset[Cell] = frozenset()

    def fields(self, world: Any) -> Any:
        return self.form(world) if callable(self.form) else self.form

    @property
    def auditor_read_only(self) -> bool:
        """UI forms that change something are refused to a read-only auditor (403)."""
        return self.method == "POST" and not self.path.startswith(OWN_ACCOUNT_PAGES)

    def expected(self, role: str, scope: str) -> int:
        if role == "auditor" and self.auditor_read_only:
            return 403
        return self.rule.expected(role, scope)


def web(ok: int, allowed: frozenset[Cell], denied: int, *exceptions: tuple[Cell, int]) -> Rule:
    """A rule of a UI view: anonymous users are sent to the login page (302)."""
    return Rule(ok, allowed, denied, tuple(exceptions), anonymous=302)


def web_instance_readers(ok: int = 200) -> Rule:
    """Participants, lane roles, supervisors and zone heads in scope; others get 404."""
    return web(ok, cells(LANES + SUPERVISORS + HEADS), 404)


def web_task_actor(ok: int = 303) -> Rule:
    """The user the task is offered to; supervisors in scope see the task but may not act."""
    return web(ok, cells(("mo_head",)), 404, *(((r, "in"), 403) for r in SUPERVISORS))


def web_admin_in_scope(ok: int = 303, out: int = 403) -> Rule:
    """The administrator of the branch holding the object; the other branch's one gets `out`."""
    return web(ok, cells(("admin",)), 403, (("admin", "out"), out))


READERS_ONLY = tuple(r for r in SUPERVISORS + HEADS if r not in LANES)


def web_instance_contributors() -> Rule:
    """Participants and lane roles in scope add; readers who take no part are sent back to
    the page with the refusal (303 and a message), others get 404."""
    return web(303, cells(LANES), 404, *(((r, "in"), 303) for r in READERS_ONLY))


def plan_fields(plan: dict[str, Any]) -> list[tuple[str, Any]]:
    """The МО plan as the task page's form posts it (bracketed names, one row per item)."""
    fields: list[tuple[str, Any]] = [
        (key, plan.get(key, "")) for key in ("school_year", "mo_name", "mo_kind", "theme", "goal")
    ]
    fields += [(f"tasks[{i}]", task) for i, task in enumerate(plan.get("tasks", []))]
    for array in ("members", "meetings", "events"):
        for i, row in enumerate(plan.get(array, [])):
            fields += [(f"{array}[{i}][{k}]", v) for k, v in row.items()]
    return fields


def _week() -> list[tuple[str, Any]]:
    now = datetime.now(UTC)
    return [
        ("valid_from", now.strftime("%Y-%m-%dT%H:%M")),
        ("valid_to", (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")),
    ]


def _new_slug() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def _csv_file() -> tuple[Any, str]:
    return (_bytes(b"slug,name,tier,parent_slug\n"), "units.csv")


WEB_ROWS: list[WebRow] = [
    WebRow(
        "GET",
        "/register/mma",
        Rule(200, cells(ROLE_CODES), 403, anonymous=302),
        lambda o: "/register/mma?municipality=gatchina",
        {},
        "Реестр ММА муниципалитета: все, кто работает в нём (в самом муниципалитете или его "
        "школах) или выше по дереву; другой муниципалитет — 403.",
    ),
    WebRow(
        "GET",
        "/register/mma.csv",
        Rule(200, cells(ROLE_CODES), 403, anonymous=302),
        lambda o: "/register/mma.csv?municipality=gatchina",
        {},
        "Реестр ММА в CSV (выгрузка записывается в журнал аудита): как реестр.",
    ),
    WebRow(
        "GET",
        "/overdue",
        Rule(200, cells(HEADS + SUPERVISORS, SCOPES), 403, anonymous=302),
        lambda o: "/overdue",
        {},
        "Просроченные задачи: руководители зоны (регион, ОМСУ, ММС, директор), аудитор и "
        "администратор — каждый в своей ветви дерева; остальным 403.",
    ),
    WebRow(
        "GET",
        "/notifications",
        Rule(200, frozenset(PRINCIPALS), 200, anonymous=302),
        lambda o: "/notifications",
        {},
        "Свои уведомления: любой вошедший пользователь.",
    ),
    WebRow(
        "POST",
        "/notifications/<int:notification_id>/read",
        Rule(303, cells(("mo_head",)), 404, anonymous=302),
        lambda o: f"/notifications/{o.notification}/read",
        {},
        "Отметить уведомление прочитанным: только его получатель; чужое — 404.",
    ),
    WebRow(
        "POST",
        "/notifications/read-all",
        Rule(303, frozenset(PRINCIPALS), 303, anonymous=302),
        lambda o: "/notifications/read-all",
        {},
        "Отметить все свои уведомления прочитанными (аудитору тоже: это своя учётная запись).",
    ),
    WebRow(
        "GET",
        "/notifications/settings",
        Rule(200, frozenset(PRINCIPALS), 200, anonymous=302),
        lambda o: "/notifications/settings",
        {},
        "Свои настройки уведомлений.",
    ),
    WebRow(
        "POST",
        "/notifications/settings",
        Rule(303, frozenset(PRINCIPALS), 303, anonymous=302),
        lambda o: "/notifications/settings",
        {"channel": "in_app"},
        "Изменить свои настройки уведомлений (аудитору тоже).",
    ),
    WebRow(
        "GET",
        "/monitoring/",
        Rule(200, cells(MONITORING_ROLES), 403, anonymous=302),
        lambda o: "/monitoring/?municipality=gatchina",
        {},
        "Мониторинг муниципалитета: региональный орган и ЦНППМ своего региона, руководители "
        "ОМСУ и ММС своего муниципалитета, директор — по своей школе; другим — 403.",
    ),
    WebRow(
        "GET",
        "/monitoring/drill",
        Rule(200, cells(MONITORING_ROLES), 403, anonymous=302),
        lambda o: "/monitoring/drill?figure=overdue&municipality=gatchina",
        {},
        "Экземпляры за числом мониторинга: как мониторинг.",
    ),
    WebRow(
        "GET",
        "/monitoring/export.csv",
        Rule(200, cells(MONITORING_ROLES), 403, anonymous=302),
        lambda o: "/monitoring/export.csv?table=municipalities&municipality=gatchina",
        {},
        "Выгрузка мониторинга в CSV: как мониторинг.",
    ),
    WebRow(
        "GET",
        "/monitoring/export.xlsx",
        Rule(200, cells(MONITORING_ROLES), 403, anonymous=302),
        lambda o: "/monitoring/export.xlsx?municipality=gatchina",
        {},
        "Выгрузка мониторинга в XLSX: как мониторинг.",
    ),
    # --- sign-in ---------------------------------------------------------------------------
    WebRow(
        "GET",
        "/login",
        Rule(302, ANYONE, 302, anonymous=200),
        lambda o: "/login",
        {},
        "Форма входа: открыта без входа; вошедшего пользователя отправляет дальше (302).",
        public=True,
    ),
    WebRow(
        "POST",
        "/login",
        Rule(302, ANYONE, 302, anonymous=401),
        lambda o: "/login",
        {"username": "nobody", "password": "wrong-password"},
        "Вход по имени и паролю: без входа неверный пароль — 401 (верный — 302, его проверяет "
        "каждый вход теста); вошедшего пользователя отправляет дальше.",
        public=True,
    ),
    WebRow(
        "POST",
        "/logout",
        web(302, ANYONE, 302),
        lambda o: "/logout",
        {},
        "Выход: любой вошедший пользователь (аудитору тоже: это своя сессия).",
        session="fresh",
    ),
    WebRow(
        "POST",
        "/language",
        Rule(302, ANYONE, 302, anonymous=302),
        lambda o: "/language",
        {"lang": "ru", "next": "/"},
        "Выбор языка интерфейса (запоминается в сессии): любой, и без входа.",
        public=True,
    ),
    # --- inbox and tasks -------------------------------------------------------------------
    WebRow(
        "GET",
        "/",
        web(200, ANYONE, 200),
        lambda o: "/",
        {},
        "Входящие: любой вошедший пользователь (список ограничен тем, что ему видно).",
    ),
    WebRow(
        "GET",
        "/tasks/<int:task_id>",
        web(200, cells(("mo_head",) + SUPERVISORS), 404),
        lambda o: f"/tasks/{o.shared_task}",
        {},
        "Страница задачи: тот, кому она предложена, аудитор и администратор в области; "
        "остальным задача «не существует» (404).",
    ),
    WebRow(
        "POST",
        "/tasks/<int:task_id>/claim",
        web_task_actor(),
        lambda o: f"/tasks/{o.task()}/claim",
        {},
        "Взять в работу: тот, кому задача предложена; администратор в области видит, но не "
        "действует (403).",
    ),
    WebRow(
        "POST",
        "/tasks/<int:task_id>/unclaim",
        web_task_actor(),
        lambda o: f"/tasks/{o.claimed_task()}/unclaim",
        {},
        "Вернуть задачу в общий список: тот, кому она предложена.",
    ),
    WebRow(
        "POST",
        "/tasks/<int:task_id>/delegate",
        web_task_actor(),
        lambda o: f"/tasks/{o.task()}/delegate",
        {"username": f"mo_head_2.{SCHOOL}"},
        "Передать задачу коллеге с той же ролью: тот, кому она предложена.",
    ),
    WebRow(
        "POST",
        "/tasks/<int:task_id>/complete",
        web_task_actor(),
        lambda o: f"/tasks/{o.task()}/complete",
        lambda o: plan_fields(mo_plan()),
        "Выполнить задачу (форма с CSRF): тот, кому она предложена.",
    ),
    WebRow(
        "POST",
        "/tasks/<int:task_id>/draft",
        web_task_actor(),
        lambda o: f"/tasks/{o.task()}/draft",
        {"mo_name": "Черновик"},
        "Сохранить свой черновик формы: тот, кто может выполнить задачу.",
    ),
    WebRow(
        "POST",
        "/tasks/<int:task_id>/draft/discard",
        web(303, cells(("mo_head",)), 404, (("auditor", "in"), 403), (("admin", "in"), 303)),
        lambda o: f"/tasks/{o.task()}/draft/discard",
        {},
        "Удалить свой черновик: тот, кто может выполнить задачу; администратора в области "
        "возвращает на задачу с отказом (303 и сообщение).",
        flash_refused=cells(("admin",)),
    ),
    # --- processes and instances -----------------------------------------------------------
    WebRow(
        "GET",
        "/processes",
        web(200, ANYONE, 200),
        lambda o: "/processes",
        {},
        "Каталог процессов: любой вошедший (в списке только те, что он может запустить).",
    ),
    WebRow(
        "GET",
        "/processes/<key>/start",
        web(200, cells(("mo_head",), SCOPES), 403),
        lambda o: "/processes/mo_plan_approval/start",
        {},
        "Форма запуска: тот, чья роль запускает процесс, в любой своей организации.",
    ),
    WebRow(
        "POST",
        "/processes/<key>/start",
        web(303, cells(("mo_head",)), 403),
        lambda o: "/processes/mo_plan_approval/start",
        lambda o: [("org_unit_id", str(o.unit[SCHOOL]))],
        "Запуск процесса в организации: держатель запускающей роли в этой организации.",
    ),
    WebRow(
        "GET",
        "/instances/<int:instance_id>",
        web_instance_readers(),
        lambda o: f"/instances/{o.shared['id']}",
        {},
        "Страница экземпляра: участники, роли дорожек, аудитор, администратор и руководители "
        "зоны в области; остальным 404.",
    ),
    WebRow(
        "POST",
        "/instances/<int:instance_id>/comments",
        web_instance_contributors(),
        lambda o: f"/instances/{o.shared['id']}/comments",
        {"body": "Комментарий матрицы доступа"},
        "Комментарий к экземпляру: участники и роли дорожек в области; читающих без участия "
        "(руководители зоны, администратор) возвращает на страницу с отказом — 303 и "
        "сообщение, ничего не записано; остальным 404.",
        flash_refused=cells(tuple(r for r in READERS_ONLY if r != "auditor")),
    ),
    WebRow(
        "POST",
        "/instances/<int:instance_id>/attachments",
        web_instance_contributors(),
        lambda o: f"/instances/{o.shared['id']}/attachments",
        lambda o: [("file", (_bytes(b"plan"), "plan.txt"))],
        "Файл к экземпляру: как комментарий.",
        flash_refused=cells(tuple(r for r in READERS_ONLY if r != "auditor")),
    ),
    WebRow(
        "GET",
        "/attachments/<int:attachment_id>/download",
        web_instance_readers(),
        lambda o: f"/attachments/{o.attachment}/download",
        {},
        "Скачать вложение: как страница экземпляра.",
    ),
    # --- audit -----------------------------------------------------------------------------
    WebRow(
        "GET",
        "/audit/",
        web(200, cells(SUPERVISORS, SCOPES), 403),
        lambda o: "/audit/",
        {},
        "Журнал аудита: аудитор и администратор (события своей ветви дерева).",
    ),
    WebRow(
        "GET",
        "/audit/verify",
        web(200, cells(SUPERVISORS, SCOPES), 403),
        lambda o: "/audit/verify",
        {},
        "Проверка цепочки хешей журнала: аудитор и администратор.",
    ),
    WebRow(
        "GET",
        "/audit/export",
        web(200, cells(SUPERVISORS, SCOPES), 403),
        lambda o: "/audit/export?format=csv",
        {},
        "Выгрузка журнала (записывается в журнал): аудитор и администратор, своя ветвь.",
    ),
    WebRow(
        "GET",
        "/audit/instances/<int:instance_id>",
        web_instance_readers(),
        lambda o: f"/audit/instances/{o.shared['id']}",
        {},
        "История экземпляра (шаги, люди, сроки): как страница экземпляра.",
    ),
    WebRow(
        "GET",
        "/audit/retention",
        web(200, cells(SUPERVISORS, SCOPES), 403),
        lambda o: "/audit/retention",
        {},
        "Отчёт о сроках хранения: аудитор и администратор (своя ветвь).",
    ),
    # --- process designer ------------------------------------------------------------------
    WebRow(
        "GET",
        "/designer/",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: "/designer/",
        {},
        "Рабочее место разработчика процессов: разработчик процессов и администратор "
        "(процессы общие для региона).",
    ),
    WebRow(
        "GET",
        "/designer/upload",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: "/designer/upload",
        {},
        "Форма загрузки файлов процесса: разработчик процессов и администратор.",
    ),
    WebRow(
        "POST",
        "/designer/upload",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: "/designer/upload",
        lambda o: [("action", "validate")]
        + [("files", (_bytes(content), name)) for name, content in parallel_bundle()],
        "Проверка (и развёртывание) загруженных файлов: разработчик процессов и администратор.",
    ),
    WebRow(
        "GET",
        "/designer/<key>",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}",
        {},
        "Версии процесса и черновик: разработчик процессов и администратор.",
    ),
    WebRow(
        "GET",
        "/designer/<key>/compare",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/compare?from=1&to=2",
        {},
        "Сравнение версий: разработчик процессов и администратор.",
    ),
    WebRow(
        "GET",
        "/designer/<key>/edit",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/edit",
        {},
        "Редактор диаграммы: разработчик процессов и администратор.",
    ),
    WebRow(
        "GET",
        "/designer/<key>/forms/<path:form>",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/forms/council.json",
        {},
        "Редактор формы: разработчик процессов и администратор.",
    ),
    WebRow(
        "POST",
        "/designer/forms/preview",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: "/designer/forms/preview",
        '{"type": "object", "properties": {}}',
        "Предпросмотр редактируемой формы: разработчик процессов и администратор.",
        body="raw",
    ),
    WebRow(
        "POST",
        "/designer/<key>/draft",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/draft",
        {"files": {}, "forms": {}},
        "Сохранить черновик процесса из редактора: разработчик процессов и администратор.",
        body="json",
    ),
    WebRow(
        "POST",
        "/designer/<key>/draft/validate",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/draft/validate",
        {},
        "Проверить черновик: разработчик процессов и администратор.",
        body="json",
    ),
    WebRow(
        "POST",
        "/designer/<key>/draft/deploy",
        web(303, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/draft/deploy",
        {},
        "Развернуть черновик новой версией: разработчик процессов и администратор.",
    ),
    WebRow(
        "POST",
        "/designer/<key>/draft/discard",
        web(303, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/draft/discard",
        {},
        "Удалить черновик: разработчик процессов и администратор.",
    ),
    WebRow(
        "POST",
        "/designer/<key>/migrate",
        web(200, cells(DESIGNERS, SCOPES), 403),
        lambda o: f"/designer/{PARALLEL}/migrate",
        {"from_version": "1", "to_version": "2", "action": "dry-run"},
        "Перевод экземпляров на новую версию (здесь — пробный): разработчик процессов и "
        "администратор.",
    ),
    # --- administration --------------------------------------------------------------------
    WebRow(
        "GET",
        "/admin/",
        web(200, cells(("admin",), SCOPES), 403),
        lambda o: "/admin/",
        {},
        "Дерево организаций для администрирования: администратор (своя ветвь).",
    ),
    WebRow(
        "POST",
        "/admin/units",
        web_admin_in_scope(),
        lambda o: "/admin/units",
        lambda o: [
            ("slug", _new_slug()),
            ("name", "Школа матрицы доступа"),
            ("tier", "institution"),
            ("parent_id", str(o.unit["gatchina"])),
        ],
        "Создать организацию: администратор ветви, в которую она входит.",
    ),
    WebRow(
        "POST",
        "/admin/units/<int:unit_id>",
        web_admin_in_scope(),
        lambda o: f"/admin/units/{o.school()}",
        {"action": "rename", "name": "Школа матрицы доступа (новое имя)"},
        "Переименовать, перенести или закрыть организацию: администратор её ветви.",
    ),
    WebRow(
        "GET",
        "/admin/users",
        web(200, cells(("admin",), SCOPES), 403),
        lambda o: "/admin/users",
        {},
        "Пользователи: администратор (своей ветви, по запросу — краткий список всех).",
    ),
    WebRow(
        "POST",
        "/admin/users",
        web(303, cells(("admin",), SCOPES), 403),
        lambda o: "/admin/users",
        lambda o: [
            ("username", _new_slug()),
            ("full_name", "Пользователь матрицы"),
            ("password", "Matrix-pass-12345"),
        ],
        "Создать пользователя (без ролей): администратор.",
    ),
    WebRow(
        "GET",
        "/admin/users/<int:user_id>",
        web(200, cells(("admin",), SCOPES), 403),
        lambda o: f"/admin/users/{o.target_user}",
        {},
        "Карточка пользователя: администратор (полная — в своей ветви, иначе краткая).",
    ),
    WebRow(
        "POST",
        "/admin/users/<int:user_id>/action",
        web_admin_in_scope(),
        lambda o: f"/admin/users/{o.user()}/action",
        {"action": "deactivate", "confirm": "yes", "reason": "отпуск"},
        "Отключить, включить пользователя или сбросить пароль: администратор его ветви.",
    ),
    WebRow(
        "POST",
        "/admin/users/<int:user_id>/grants",
        web_admin_in_scope(),
        lambda o: f"/admin/users/{o.user(False)}/grants",
        lambda o: [
            ("role", "teacher"),
            ("org_unit_id", str(o.unit[SCHOOL])),
            ("reason", "матрица доступа"),
        ],
        "Назначить роль: администратор ветви, где роль назначается.",
    ),
    WebRow(
        "POST",
        "/admin/grants/<int:grant_id>/revoke",
        web_admin_in_scope(),
        lambda o: f"/admin/grants/{o.revocable_grant()}/revoke",
        {"confirm": "yes", "reason": "матрица доступа"},
        "Отозвать роль: администратор ветви назначения.",
    ),
    WebRow(
        "POST",
        "/admin/users/<int:user_id>/substitutions",
        web_admin_in_scope(),
        lambda o: f"/admin/users/{o.user()}/substitutions",
        lambda o: [("substitute", f"teacher.{SCHOOL}"), ("reason", "отпуск"), *_week()],
        "Назначить замещающего: администратор ветви обоих пользователей.",
    ),
    WebRow(
        "POST",
        "/admin/substitutions/<int:substitution_id>/cancel",
        web_admin_in_scope(),
        lambda o: f"/admin/substitutions/{o.substitution()}/cancel",
        {"confirm": "yes", "reason": "отменено"},
        "Отменить замещение: администратор ветви пользователей.",
    ),
    WebRow(
        "GET",
        "/admin/substitutions",
        web(200, cells(("admin",), SCOPES), 403),
        lambda o: "/admin/substitutions",
        {},
        "Замещения: администратор (своя ветвь).",
    ),
    WebRow(
        "GET",
        "/admin/tasks",
        web(200, cells(("admin",), SCOPES), 403),
        lambda o: "/admin/tasks",
        {},
        "Открытые задачи для переназначения: администратор (задачи своей ветви).",
    ),
    WebRow(
        "GET",
        "/admin/tasks/<int:task_id>",
        web_admin_in_scope(200, 404),
        lambda o: f"/admin/tasks/{o.shared_task}",
        {},
        "Форма переназначения задачи: администратор её ветви; администратору другой ветви "
        "задача «не существует» (404).",
    ),
    WebRow(
        "POST",
        "/admin/tasks/<int:task_id>/reassign",
        web_admin_in_scope(303, 404),
        lambda o: f"/admin/tasks/{o.task()}/reassign",
        {"username": MO_HEAD, "confirm": "yes", "reason": "отпуск"},
        "Переназначить задачу: как форма переназначения.",
    ),
    WebRow(
        "GET",
        "/admin/import",
        web(200, cells(("admin",), SCOPES), 403),
        lambda o: "/admin/import",
        {},
        "Форма импорта организаций и пользователей: администратор.",
    ),
    WebRow(
        "POST",
        "/admin/import",
        web(200, cells(("admin",), SCOPES), 403),
        lambda o: "/admin/import",
        lambda o: [("dry_run", "yes"), ("file", _csv_file())],
        "Импорт из CSV (здесь — пробный): администратор (строки вне своей ветви отклоняются).",
    ),
    WebRow(
        "GET",
        "/admin/import/<job_id>",
        web(200, cells(("admin",)), 404),
        lambda o: f"/admin/import/{o.import_job}",
        {},
        "Ход импорта: только тот, кто его запустил; остальным импорт «не существует» (404).",
    ),
    WebRow(
        "GET",
        "/admin/import/<job_id>/status",
        web(200, cells(("admin",)), 404),
        lambda o: f"/admin/import/{o.import_job}/status",
        {},
        "Ход импорта в JSON: как страница хода импорта.",
    ),
    WebRow(
        "POST",
        "/admin/import/<job_id>/tokens",
        web(200, cells(("admin",)), 404),
        lambda o: f"/admin/import/{o.import_job}/tokens",
        {},
        "Одноразовые токены установки паролей импорта (выдаются один раз): только тот, кто "
        "запустил импорт.",
    ),
]


# --- the document --------------------------------------------------------------------------

SCOPE_LABEL = {"in": "в области", "out": "вне области"}
# The sections of the web part of the document: a title and the path prefixes of its views.
WEB_SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Вход и язык", ("/login", "/logout", "/language")),
    ("Входящие и задачи", ("/tasks/",)),
    ("Процессы и экземпляры", ("/processes", "/instances/", "/attachments/")),
    ("Уведомления и сроки", ("/notifications", "/overdue")),
    ("Реестр ММА", ("/register/",)),
    ("Мониторинг", ("/monitoring/",)),
    ("Аудит", ("/audit/",)),
    ("Разработчик процессов", ("/designer/",)),
    ("Администрирование", ("/admin/",)),
]


def _web_section(path: str) -> tuple[str, ...]:
    """The prefixes of the section a view belongs to (the inbox `/` joins the tasks)."""
    for _title, prefixes in WEB_SECTIONS:
        if path.startswith(prefixes):
            return prefixes
    return ("/tasks/",)


def render_markdown() -> str:
    """docs/authorization-matrix.md, generated from ROWS."""
    lines = [
        "# Матрица доступа: REST API и веб-интерфейс",
        "",
        "<!-- Generated from tests/security/authz_matrix.py: do not edit by hand. Regenerate:",
        "     python -m tests.security.authz_matrix > docs/authorization-matrix.md -->",
        "",
        "Кто может вызывать каждую операцию API. Таблица порождена из теста",
        "`tests/security/test_authorization_matrix.py`, который вызывает каждую операцию из",
        "`/api/v1/openapi.json` от имени каждой роли каталога дважды: с ролью **в области**",
        "объекта и с той же ролью **вне области** (у соседней организации того же уровня),",
        "а также без входа. Операция без строки в таблице проваливает тест.",
        "",
        "Объект проверки — экземпляр `mo_plan_approval` в школе `gatchina-school-1`, первая",
        "задача которого ждёт руководителя МО. «В области»: школьные роли в этой школе,",
        "муниципальные — в `gatchina`, региональные и роли любого уровня — в `lenobl`.",
        "«Вне области»: `luga-school-1`, `luga`, второй регион `pskov`.",
        "",
        "Ячейка — коды ответа «в области / вне области». 2xx — разрешено; 403 — запрещено",
        "явно (объект виден или операция не про объект); 404 — объект для этого",
        "пользователя не существует (перебором идентификаторов чужое не найти); 401 — без",
        "входа.",
        "",
        "Общее правило: аудитор — только чтение. Любая запись вне своей учётной записи",
        "(`/auth/`, `/me/`, `/notifications/`) отклоняется аудитору с 403 до поиска объекта.",
        "",
        f"Размер матрицы: {len(ROWS)} операций × {len(ROLE_CODES)} ролей × 2 области "
        f"+ {len(ROWS)} вызовов без входа = {len(ROWS) * (len(ROLE_CODES) * 2 + 1)} проверок.",
        "",
        "## Правила по операциям",
        "",
        "| операция | кто может | без входа |",
        "|---|---|---|",
    ]
    for row in ROWS:
        lines.append(f"| `{row.method} {row.path}` | {row.summary} | {row.rule.anonymous} |")
    lines += [
        "",
        "## Полная матрица",
        "",
        "| операция | " + " | ".join(f"`{r}`" for r in ROLE_CODES) + " |",
        "|---|" + "---|" * len(ROLE_CODES),
    ]
    for row in ROWS:
        statuses = [
            f"{row.expected(role, 'in')} / {row.expected(role, 'out')}" for role in ROLE_CODES
        ]
        lines.append(f"| `{row.method} {row.path}` | " + " | ".join(statuses) + " |")
    lines += [
        "",
        "## Веб-интерфейс",
        "",
        "Каждая страница и каждая форма веб-интерфейса (все правила `url_map`, кроме API и",
        "статических файлов; тест `test_table_covers_every_view` проваливается, если страница",
        "без строки) проверяются так же: `tests/security/test_web_authorization_matrix.py`",
        "входит через форму входа от имени каждой роли в области и вне её и отправляет формы",
        "с CSRF-токеном (запросы редактора процессов — с заголовком `X-CSRFToken`). Каждое",
        "разрешённое изменение получает свои объекты (задачу, экземпляр, пользователя…).",
        "",
        "Коды: 200 — страница показана; 302/303 — переход после входа или выполненной формы;",
        "403 — запрещено (страница ошибки); 404 — объект для этого пользователя не существует.",
        "Форма, отправленная обратно с 303, проверяется по следующей странице: при успехе на",
        "ней нет сообщения об ошибке, а отказ «с возвратом» (отмечен в правиле) показывает",
        "сообщение об отказе — ничего не записано.",
        "",
        "Без входа страница отправляет на форму входа (302); открытые страницы (вход, выбор",
        "языка) отвечают сами. Аудитор — только чтение: любая форма вне своей учётной записи",
        "(вход, выход, язык, уведомления) отклоняется ему с 403 до поиска объекта.",
        "",
        f"Размер матрицы: {len(WEB_ROWS)} страниц и форм × {len(ROLE_CODES)} ролей × 2 области "
        f"+ {len(WEB_ROWS)} запросов без входа = "
        f"{len(WEB_ROWS) * (len(ROLE_CODES) * 2 + 1)} проверок.",
    ]
    for title, prefixes in WEB_SECTIONS:
        rows = [r for r in WEB_ROWS if _web_section(r.path) == prefixes]
        lines += ["", f"### {title}", "", "| страница | кто может | без входа |", "|---|---|---|"]
        lines += [f"| `{r.method} {r.path}` | {r.summary} | {r.rule.anonymous} |" for r in rows]
    lines += [
        "",
        "### Полная матрица веб-интерфейса",
        "",
        "| страница | " + " | ".join(f"`{r}`" for r in ROLE_CODES) + " |",
        "|---|" + "---|" * len(ROLE_CODES),
    ]
    for _title, prefixes in WEB_SECTIONS:
        for web_row in WEB_ROWS:
            if _web_section(web_row.path) != prefixes:
                continue
            statuses = [
                f"{web_row.expected(role, 'in')} / {web_row.expected(role, 'out')}"
                for role in ROLE_CODES
            ]
            lines.append(f"| `{web_row.method} {web_row.path}` | " + " | ".join(statuses) + " |")
    lines += [
        "",
        "## Кто такие «в области» и «вне области» для каждой роли",
        "",
        "| роль | уровень | в области | вне области |",
        "|---|---|---|---|",
    ]
    for role in ROLE_CODES:
        tier = ROLES[role].tier or "любой"
        lines.append(
            f"| `{role}` ({ROLES[role].title}) | {tier} | `{username(role, 'in')}` | "
            f"`{username(role, 'out')}` |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
