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
    """Participants, lane roles in scope and supervisors in scope; others do not see it (404)."""
    return Rule(ok, cells(LANES + SUPERVISORS), 404)


def task_actor(ok: int = 200) -> Rule:
    """The user the task is offered to; supervisors in scope see the task but may not act."""
    return Rule(ok, cells(("mo_head",)), 404, tuple(((r, "in"), 403) for r in SUPERVISORS))


HEADS = ("region_official", "municipal_head", "mms_head", "director")


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
        "Экземпляр: участники, роли дорожек процесса в области и аудитор/администратор "
        "выше по дереву; остальным он «не существует» (404).",
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
        instance_readers(201),
        lambda w, u: Call(
            f"/instances/{w.shared['id']}/attachments",
            data={"file": (_bytes(b"note"), "note.txt")},
            content_type="multipart/form-data",
        ),
        "Добавить вложение: как чтение экземпляра.",
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
        instance_readers(201),
        lambda w, u: Call(f"/instances/{w.shared['id']}/comments", json={"body": "Замечание"}),
        "Добавить комментарий: как чтение экземпляра.",
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
        "POST",
        "/api/v1/admin/import",
        only(("admin",)),
        lambda w, u: Call("/admin/import", data=_csv_upload(), content_type="multipart/form-data"),
        "Импорт организаций и пользователей из CSV (здесь — пробный): администратор.",
    ),
]


# --- the document --------------------------------------------------------------------------

SCOPE_LABEL = {"in": "в области", "out": "вне области"}


def render_markdown() -> str:
    """docs/authorization-matrix.md, generated from ROWS."""
    lines = [
        "# Матрица доступа REST API",
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
