"""CSV import: dry run, line-numbered errors with full rollback, setup tokens, progress, CLI."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, RoleGrant, User
from app.services import admin_users, org_import
from app.services.errors import ValidationFailed

USERS = (
    "username,full_name,email,password,role,org_unit_slug,valid_from,valid_to\n"
    "petrov,Петров П. П.,petrov@example.org,,teacher,luga-school-1,,\n"
    "petrov,,,,mo_head,luga-school-1,2030-01-01,2030-06-01\n"
    "sidorova,Сидорова С. С.,,long-password-1,director,luga-school-2,,\n"
    "teacher.luga-school-1,,,,mo_head,luga-school-1,,\n"
)


def _count(model: Any) -> int:
    return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())


def test_dry_run_reports_and_writes_nothing(ctx: Any) -> None:
    users, grants, events = _count(User), _count(RoleGrant), _count(AuditEvent)
    report = org_import.import_csv(USERS, None, dry_run=True)
    assert (report.users_created, report.grants_created) == (2, 4)
    assert report.dry_run and report.setup_tokens == {}
    assert (_count(User), _count(RoleGrant), _count(AuditEvent)) == (users, grants, events)


def test_import_writes_users_grants_periods_and_setup_tokens(ctx: Any) -> None:
    stages: list[tuple[str, int, int]] = []
    report = org_import.import_csv(USERS, None, progress=lambda *a: stages.append(a))
    assert (report.users_created, report.grants_created) == (2, 4)
    assert set(report.setup_tokens) == {"petrov"}  # sidorova had a password
    assert stages[-1] == ("готово", 1, 1) and ("проверка", 4, 4) in stages
    petrov = db.session.execute(select(User).where(User.username == "petrov")).scalar_one()
    assert petrov.must_set_password and petrov.password_hash == ""
    assert petrov.password_setup_hash != report.setup_tokens["petrov"]  # only the digest
    mo_head = next(g for g in petrov.grants if g.role == "mo_head")
    assert mo_head.valid_from is not None and mo_head.valid_from.year == 2030
    assert mo_head.valid_to is not None and mo_head.valid_to.month == 6
    sidorova = db.session.execute(select(User).where(User.username == "sidorova")).scalar_one()
    assert sidorova.password_hash.startswith("$argon2id$")  # as strong as any other hash
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.kind == "org_imported")
    ).scalar_one()
    assert event.payload["users"] == 2 and event.payload["must_set_password"] == ["petrov"]
    # Importing the same file again adds nothing.
    again = org_import.import_csv(USERS, None)
    assert (again.users_created, again.grants_created) == (0, 0)


def test_setup_token_sets_the_password_once(ctx: Any) -> None:
    report = org_import.import_csv(USERS, None)
    client = ctx.test_client()
    login = {"username": "petrov", "password": "new-password-1"}
    assert client.post("/api/v1/auth/token", json=login).status_code == 401
    body = {"token": report.setup_tokens["petrov"], "password": "short"}
    assert client.post("/api/v1/auth/password-setup", json=body).status_code == 422
    body["password"] = "new-password-1"
    assert client.post("/api/v1/auth/password-setup", json=body).status_code == 204
    assert client.post("/api/v1/auth/password-setup", json=body).status_code == 401  # one-time
    assert client.post("/api/v1/auth/token", json=login).status_code == 200
    user = admin_users.by_username("petrov")
    db.session.refresh(user)
    assert user is not None and not user.must_set_password


def test_errors_have_line_numbers_and_nothing_is_written(ctx: Any) -> None:
    bad = (
        "username,full_name,email,password,role,org_unit_slug\n"
        "good.one,Хороший,,,teacher,luga-school-1\n"
        "bad one,Пробел,,,teacher,luga-school-1\n"
        "bad.role,Плохой,,,wizard,luga-school-1\n"
        "bad.tier,Плохой,,,director,luga\n"
        "short.pw,Короткий,,1234567,teacher,luga-school-1\n"
        "no.unit,Нет школы,,,teacher,nowhere\n"
    )
    users = _count(User)
    with pytest.raises(ValidationFailed) as exc:
        org_import.import_csv(bad, None)
    rows = exc.value.errors["rows"]
    assert [r.split(":")[0] for r in rows] == [
        "Строка 3",
        "Строка 4",
        "Строка 5",
        "Строка 6",
        "Строка 7",
    ]
    assert "wizard" in rows[1] and "municipality" in rows[2] and "nowhere" in rows[4]
    assert "8 символов" in rows[3]
    assert _count(User) == users  # the good row was not written either


def test_failure_while_writing_rolls_everything_back(ctx: Any, monkeypatch: Any) -> None:
    users, grants = _count(User), _count(RoleGrant)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    # Users are inserted, then writing the grants fails: the users must not stay.
    monkeypatch.setattr(org_import, "_chunks", _fail_on_grants(org_import._chunks, broken))
    with pytest.raises(RuntimeError):
        org_import.import_csv(USERS, None)
    db.session.rollback()
    assert (_count(User), _count(RoleGrant)) == (users, grants)


def _fail_on_grants(original: Any, broken: Any) -> Any:
    def chunks(items: list[Any], size: int = org_import.BATCH) -> Any:
        if items and isinstance(items[0], dict) and "role" in items[0]:
            broken()
        return original(items, size)

    return chunks


def test_api_import_dry_run_and_real(api: Any) -> None:
    def upload(dry_run: bool) -> Any:
        data = {"file": (io.BytesIO(USERS.encode()), "users.csv")}
        if dry_run:
            data["dry_run"] = "true"
        return api.post("/admin/import", "admin", data=data, content_type="multipart/form-data")

    dry = upload(True)
    assert dry.status_code == 200 and dry.get_json()["dry_run"] is True
    assert dry.get_json()["users_created"] == 2 and dry.get_json()["setup_tokens"] == {}
    real = upload(False)
    assert real.status_code == 200 and set(real.get_json()["setup_tokens"]) == {"petrov"}


def test_cli_import_prints_progress_and_writes_tokens(seeded: Any, tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text(USERS, encoding="utf-8")
    tokens = tmp_path / "tokens.csv"
    result = seeded.test_cli_runner().invoke(
        args=["org", "import", str(source), "--tokens-out", str(tokens)]
    )
    assert result.exit_code == 0, result.output
    assert "проверка: 4/4" in result.output
    assert "пользователей 2, назначений ролей 4" in result.output
    lines = tokens.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "username,setup_token" and lines[1].startswith("petrov,")
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"


def test_cli_users_create_and_deactivate(seeded: Any) -> None:
    runner = seeded.test_cli_runner()
    made = runner.invoke(args=["users", "create", "operator.one", "--full-name", "Оператор"])
    assert made.exit_code == 0 and "токен" in made.output
    gone = runner.invoke(args=["users", "deactivate", "operator.one", "--reason", "Ушёл"])
    assert gone.exit_code == 0, gone.output
    assert runner.invoke(args=["users", "deactivate", "nobody", "--reason", "x"]).exit_code == 1
    with seeded.app_context():
        assert admin_users.by_username("operator.one").is_active is False
