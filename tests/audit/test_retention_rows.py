"""The retention purge deletes the expired instances' own rows too, and the chain still verifies.

Dry run first (counts per table, nothing deleted), then --confirm: the instance, its tasks,
candidates, comments, attachments and the file contents no other attachment uses, its
notifications … are gone; a role grant made by the instance survives with its link cut; the
other instances keep everything; `retention_purged` records what was deleted.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (
    Attachment,
    AuditEvent,
    Blob,
    Comment,
    HumanTask,
    Notification,
    ProcessInstance,
    RoleGrant,
    TaskCandidate,
    User,
)
from app.services import audit, retention
from tests.audit.helpers import DIRECTOR_APPROVE, complete, only_task, run_plan
from tests.conftest import ApiClient

NOW = datetime.now(UTC)
SHARED = b"protocol shared by two instances"


def _attach(api: ApiClient, instance_id: int, school: str, content: bytes, name: str) -> None:
    resp = api.post(
        f"/instances/{instance_id}/attachments",
        f"mo_head.{school}",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()


def _documented_plan(api: ApiClient, school: str, own: bytes) -> int:
    """A finished plan with a comment, a file of its own and the shared file."""
    instance_id = run_plan(api, school, finish=False)
    _attach(api, instance_id, school, own, "own.txt")
    _attach(api, instance_id, school, SHARED, "shared.txt")
    comment = api.post(
        f"/instances/{instance_id}/comments", f"mo_head.{school}", json={"body": "Замечание"}
    )
    assert comment.status_code == 201, comment.get_json()
    instance = api.get(f"/instances/{instance_id}", f"director.{school}").get_json()
    complete(api, f"director.{school}", only_task(instance)["id"], DIRECTOR_APPROVE)
    return instance_id


def _counts(instance_id: int) -> dict[str, int]:
    def count(model: Any, *where: Any) -> int:
        return int(
            db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        )

    tasks = select(HumanTask.id).where(HumanTask.instance_id == instance_id)
    return {
        "process_instance": count(ProcessInstance, ProcessInstance.id == instance_id),
        "human_task": count(HumanTask, HumanTask.instance_id == instance_id),
        "human_task_candidate": count(TaskCandidate, TaskCandidate.human_task_id.in_(tasks)),
        "attachment": count(Attachment, Attachment.instance_id == instance_id),
        "comment": count(Comment, Comment.instance_id == instance_id),
        "notification": count(Notification, Notification.instance_id == instance_id),
        "audit_event": count(AuditEvent, AuditEvent.instance_id == instance_id),
    }


def _grant_from(app: Flask, instance_id: int) -> int:
    """A role grant recorded as made by the instance (as the ММА selection does)."""
    with app.app_context():
        user = db.session.execute(
            select(User).where(User.username == "teacher.gatchina-school-1")
        ).scalar_one()
        grant = RoleGrant(
            user_id=user.id,
            role="mo_head",
            org_unit_id=db.session.execute(
                select(RoleGrant.org_unit_id).where(RoleGrant.user_id == user.id)
            )
            .scalars()
            .first(),
            reason="по итогам процесса",
            source_instance_id=instance_id,
        )
        db.session.add(grant)
        db.session.commit()
        return int(grant.id)


def test_purge_deletes_the_instances_rows_after_a_dry_run(api: ApiClient, seeded: Flask) -> None:
    old = _documented_plan(api, "gatchina-school-1", b"old instance's own file")
    recent = _documented_plan(api, "gatchina-school-2", b"recent instance's own file")
    grant_id = _grant_from(seeded, old)
    with seeded.app_context():
        db.session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == old)
            .values(ended_at=NOW - timedelta(days=365 * 6))
        )
        db.session.commit()
        before_old, before_recent = _counts(old), _counts(recent)
        assert all(before_old.values()), before_old
        blobs = int(db.session.execute(select(func.count(Blob.sha256))).scalar_one())

    runner = seeded.test_cli_runner()
    dry = runner.invoke(args=["audit", "purge", "--before", NOW.isoformat()])
    assert dry.exit_code == 0, dry.output
    assert "Ничего не удалено" in dry.output and "process_instance: 1" in dry.output
    with seeded.app_context():
        report = retention.purge(NOW, confirm=False)
        assert report.instances == 1
        assert report.rows["process_instance"] == 1
        assert report.rows["human_task"] == before_old["human_task"]
        assert report.rows["attachment"] == 2 and report.rows["comment"] == 1
        assert report.rows["blob"] == 1  # the shared file stays for the recent instance
        assert report.detached == {"role_grant.source_instance_id": 1}
        assert _counts(old) == before_old  # a dry run deletes nothing

    done = runner.invoke(args=["audit", "purge", "--before", NOW.isoformat(), "--confirm"])
    assert done.exit_code == 0, done.output
    assert "process_instance: 1" in done.output
    with seeded.app_context():
        assert set(_counts(old).values()) == {0}
        assert _counts(recent) == before_recent
        assert int(db.session.execute(select(func.count(Blob.sha256))).scalar_one()) == blobs - 1
        shared = db.session.execute(
            select(Attachment.sha256).where(
                Attachment.instance_id == recent, Attachment.filename == "shared.txt"
            )
        ).scalar_one()
        assert db.session.get(Blob, shared) is not None
        grant = db.session.get(RoleGrant, grant_id)
        assert grant is not None and grant.source_instance_id is None
        checkpoint = audit.latest_checkpoint()
        assert checkpoint is not None
        payload = checkpoint[1]
        assert payload["instance_ids"] == [old]
        assert payload["rows"]["process_instance"] == 1 and payload["rows"]["blob"] == 1
        assert payload["detached"] == {"role_grant.source_instance_id": 1}
        assert payload["events"] == before_old["audit_event"]
        assert audit.verify()["ok"] is True
    assert api.get(f"/instances/{old}", "admin").status_code == 404
    assert api.get(f"/instances/{recent}", "admin").status_code == 200
    assert api.get("/audit/verify", "auditor").get_json()["ok"] is True

    again = runner.invoke(args=["audit", "purge", "--before", NOW.isoformat(), "--confirm"])
    assert again.exit_code == 0 and "Нечего удалять" in again.output


def test_every_table_referring_to_an_instance_is_owned_or_detached(seeded: Flask) -> None:
    """A new table pointing at instances or tasks is purged with them unless listed detached."""
    with seeded.app_context():
        order, links, detached = retention._ownership()
        names = {t.name for t in order}
        for table in db.Model.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column.table.name in ("process_instance", "human_task"):
                    key = (table.name, fk.parent.name)
                    assert (
                        table.name in names
                        or key in retention.DETACHED
                        or table.name == "audit_event"
                    ), key
        assert {"human_task", "human_task_candidate", "attachment", "comment"} <= names
        assert "role_grant" not in names and "app_user" not in names and "blob" not in names
        # children come before their parents
        position = {t.name: i for i, t in enumerate(order)}
        for name, table_links in links.items():
            for link in table_links:
                assert position[name] < position[link.parent.name], (name, link.parent.name)
