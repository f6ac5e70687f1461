"""CLI commands and service rules: import, audit tamper detection, versions, assignment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import AuditEvent, OrgUnit, ProcessVersion, RoleGrant, User
from app.services import assignment, deployment, instances, tasks
from tests.factories import mo_plan

ROOT = Path(__file__).resolve().parent.parent.parent


def _user(name: str) -> User:
    return db.session.execute(select(User).where(User.username == name)).scalar_one()


def _unit(slug: str) -> OrgUnit:
    return db.session.execute(select(OrgUnit).where(OrgUnit.slug == slug)).scalar_one()


def test_demo_users_command(seeded: Any) -> None:
    out = seeded.test_cli_runner().invoke(args=["demo", "users"]).output
    assert "mo_head.gatchina-school-1" in out and "region_official.lenobl" in out
    assert "mma_member" not in out
    assert "designer" in out and "auditor" in out and "admin" in out


def test_org_import_units_and_users(seeded: Any, tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text(
        "slug,name,tier,parent_slug\n"
        "kirishi,Киришский муниципальный район,municipality,lenobl\n"
        "kirishi-school-1,Киришская СОШ № 1,institution,kirishi\n",
        encoding="utf-8",
    )
    runner = seeded.test_cli_runner()
    result = runner.invoke(args=["org", "import", str(units)])
    assert result.exit_code == 0, result.output
    users = tmp_path / "users.csv"
    users.write_text(
        "username,full_name,email,password,role,org_unit_slug\n"
        "ivanova,Иванова А. П.,,long-password-1,mo_head,kirishi-school-1\n"
        "ivanova,,,,teacher,kirishi-school-1\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["org", "import", str(users)])
    assert result.exit_code == 0, result.output
    assert "пользователей 1, назначений ролей 2" in result.output
    with seeded.app_context():
        user = _user("ivanova")
        assert {g.role for g in user.grants} == {"mo_head", "teacher"}


def test_org_import_bad_rows_import_nothing(seeded: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "username,full_name,email,password,role,org_unit_slug\n"
        "good.user,Хороший,,long-password-1,teacher,luga-school-1\n"
        "bad.role,Плохой,,long-password-1,wizard,luga-school-1\n"
        "bad.unit,Плохой,,long-password-1,teacher,atlantis\n",
        encoding="utf-8",
    )
    with seeded.app_context():
        before = db.session.execute(select(func.count(User.id))).scalar_one()
    result = seeded.test_cli_runner().invoke(args=["org", "import", str(bad)])
    assert result.exit_code == 1
    assert "Строка 3" in result.output and "wizard" in result.output
    assert "Строка 4" in result.output and "atlantis" in result.output
    with seeded.app_context():
        assert db.session.execute(select(func.count(User.id))).scalar_one() == before


def test_audit_verify_names_first_tampered_event(seeded: Any) -> None:
    runner = seeded.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "цела" in ok.output
    with seeded.app_context():
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == 2).values(payload={"forged": True})
        )
        db.session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert "№ 2" in bad.output


def test_redeploy_is_noop_and_change_is_new_version(ctx: Any, tmp_path: Path) -> None:
    bundle = deployment.bundle_from_directory(ROOT / "processes", ROOT / "forms")
    outcomes, _ = deployment.deploy(bundle, None)
    assert all(not o.created for o in outcomes)
    mo_head = _user("mo_head.gatchina-school-1")
    running = instances.start_instance(
        mo_head, "mo_plan_approval", _unit("gatchina-school-1").id, {}
    )
    changed = deployment.Bundle(
        sources={
            "mo_plan_approval.bpmn": bundle.sources["mo_plan_approval.bpmn"].replace(
                "Разработка плана работы МО".encode(), "Разработка плана МО (ред. 2)".encode()
            )
        },
        forms={k: v for k, v in bundle.forms.items() if k.startswith("mo_plan_approval/")},
    )
    outcomes, _ = deployment.deploy(changed, None)
    assert [(o.key, o.version, o.created) for o in outcomes] == [("mo_plan_approval", 2, True)]
    assert (
        db.session.execute(
            select(func.count(ProcessVersion.id)).where(ProcessVersion.key == "mo_plan_approval")
        ).scalar_one()
        == 2
    )
    # the running instance stays on version 1 and can still be completed there
    task = instances.open_tasks(running)[0]
    assert task.name == "Разработка плана работы МО"
    after = tasks.complete(mo_head, task.id, mo_plan())
    assert after.version.version == 1
    fresh = instances.start_instance(mo_head, "mo_plan_approval", _unit("gatchina-school-1").id, {})
    assert fresh.version.version == 2
    assert instances.open_tasks(fresh)[0].name == "Разработка плана МО (ред. 2)"


def test_assignment_takes_nearest_unit_up_the_tree(ctx: Any) -> None:
    school = _unit("gatchina-school-1")
    unit, users = assignment.offer("mo_head", school)
    assert unit is not None and unit.slug == "gatchina-school-1"
    assert [u.username for u in users] == ["mo_head.gatchina-school-1"]
    unit, users = assignment.offer("mms_head", school)
    assert unit is not None and unit.slug == "gatchina"
    unit, users = assignment.offer("region_official", school)
    assert unit is not None and unit.slug == "lenobl"
    # a grant at the school itself wins over the municipality's
    db.session.add(
        RoleGrant(
            user_id=_user("teacher.gatchina-school-1").id, role="mms_head", org_unit_id=school.id
        )
    )
    db.session.commit()
    unit, users = assignment.offer("mms_head", school)
    assert unit is not None and unit.slug == "gatchina-school-1"
    assert [u.username for u in users] == ["teacher.gatchina-school-1"]
    unit, users = assignment.offer("mma_member", school)
    assert unit is None and users == []


def test_expired_grant_is_not_used(ctx: Any) -> None:
    from datetime import timedelta

    from app.models.base import utcnow

    db.session.execute(
        update(RoleGrant)
        .where(RoleGrant.role == "director")
        .values(valid_to=utcnow() - timedelta(days=1))
    )
    db.session.commit()
    unit, users = assignment.offer("director", _unit("gatchina-school-1"))
    assert users == []


def test_named_user_in_process_data_overrides_the_lane(ctx: Any) -> None:
    source = (ROOT / "tests" / "data" / "engine" / "review.bpmn").read_text()
    source = source.replace(
        'value="test_review/review.json"/>',
        'value="test_review/review.json"/>\n'
        '        <spiffworkflow:property name="assigneeVariable" value="reviewer"/>',
    )
    schema = b'{"type": "object", "properties": {"reviewer": {"type": "string"}, '
    schema += b'"decision": {"type": "string"}, "history": {"type": "array"}, '
    schema += b'"review_period": {"type": "string", "default": "P2D"}}}'
    bundle = deployment.Bundle(
        sources={"review.bpmn": source.encode()},
        forms={
            "test_review/start.json": schema,
            "test_review/draft.json": schema,
            "test_review/review.json": schema,
        },
    )
    deployment.deploy(bundle, None)
    teacher = _user("teacher.gatchina-school-1")
    instance = instances.start_instance(
        teacher, "test_review", _unit("gatchina-school-1").id, {"history": []}
    )
    draft = instances.open_tasks(instance)[0]
    tasks.complete(teacher, draft.id, {"reviewer": "deputy_director.gatchina-school-1"})
    review = instances.open_tasks(instance)[0]
    assert review.bpmn_id == "review"
    assert [c.user.username for c in review.candidates] == ["deputy_director.gatchina-school-1"]
    assert [c.reason for c in review.candidates] == ["named"]
    assert tasks.inbox(_user("director.gatchina-school-1")).total == 0
    assert tasks.inbox(_user("deputy_director.gatchina-school-1")).total == 1
