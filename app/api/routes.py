"""REST API v1 handlers: parse input, call one service, shape the output."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..downloads import download
from ..services import auth as auth_service
from ..services import deployment, documents, instances, org, tasks
from ..services.errors import ValidationFailed
from . import schemas as s
from .auth import current_user

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="РСНМС REST API")
_ERRORS = {
    "400": s.ApiErrorSchema,
    "401": s.ApiErrorSchema,
    "403": s.ApiErrorSchema,
    "404": s.ApiErrorSchema,
    "409": s.ApiErrorSchema,
    "422": s.ApiErrorSchema,
}


_responses = partial(s.error_responses, blp)


def _instance_view(instance: Any) -> dict[str, Any]:
    return {
        "id": instance.id,
        "process_key": instance.process_key,
        "version": instance.version.version,
        "status": instance.status,
        "org_unit_id": instance.org_unit_id,
        "title": instance.title,
        "started_at": instance.started_at,
        "ended_at": instance.ended_at,
        "next_timer_at": instance.next_timer_at,
        "tasks": instances.open_tasks(instance),
    }


class _TaskDetail:
    """A task with its form and data, for the detail schema."""

    def __init__(self, task: Any, form: dict[str, Any] | None, data: dict[str, Any]) -> None:
        self._task = task
        self.form = form
        self.data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


@blp.route("/auth/token")
class TokenResource(MethodView):
    @blp.arguments(s.TokenRequestSchema)
    @blp.response(200, s.TokenSchema)
    @_responses(401, 422, 429)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange username and password for a bearer token."""
        ttl = current_app.config["TOKEN_TTL_HOURS"]
        token, _user = auth_service.issue_token(body["username"], body["password"], ttl)
        return {"token": token, "expires_in": ttl * 3600}

    @blp.response(204)
    @_responses(401)
    def delete(self) -> None:
        """Revoke the token of this request (logout)."""
        current_user()
        auth_service.revoke_token(request.headers["Authorization"].split(" ", 1)[1].strip())


@blp.route("/me")
class MeResource(MethodView):
    @blp.response(200, s.MeSchema)
    @_responses(401)
    def get(self) -> dict[str, Any]:
        """The calling user with their role grants."""
        user = current_user()
        return {
            "id": user.id,
            "username": user.username,
            "full_name": user.full_name,
            "grants": [
                {"role": g.role, "org_unit_id": g.org_unit_id, "org_unit_slug": g.org_unit.slug}
                for g in user.grants
            ],
        }


@blp.route("/org-units")
class OrgUnitsResource(MethodView):
    @blp.response(200, s.OrgUnitSchema(many=True))
    @_responses(401)
    def get(self) -> list[Any]:
        """The org tree as a flat list with parent ids."""
        current_user()
        return org.list_units()


@blp.route("/processes")
class ProcessesResource(MethodView):
    @blp.response(200, s.ProcessSchema(many=True))
    @_responses(401)
    def get(self) -> list[Any]:
        """Deployed processes, latest versions."""
        current_user()
        return deployment.latest_versions()

    @blp.response(201, s.DeployResultSchema)
    @_responses(400, 401, 403, 422)
    def post(self) -> tuple[dict[str, Any], int]:
        """Validate and deploy uploaded .bpmn/.dmn/.json files (multipart field `files`)."""
        actor = current_user()
        uploads = request.files.getlist("files")
        if not uploads:
            raise ValidationFailed(
                "Не переданы файлы.", {"files": ["Добавьте .bpmn, .dmn, .json."]}
            )
        bundle = deployment.Bundle()
        for upload in uploads:
            name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
            content = upload.read(deployment.MAX_FILE_BYTES + 1)
            if name.endswith((".bpmn", ".dmn", ".xml")):
                bundle.sources[name] = content
            elif name.endswith(".json"):
                bundle.forms[name] = content
            else:
                raise ValidationFailed(
                    "Неподдерживаемый тип файла.",
                    {"files": [f"{name}: допустимы .bpmn, .dmn, .json."]},
                )
        outcomes, problems = deployment.deploy(bundle, actor)
        first = outcomes[0]
        return {
            "key": first.key,
            "version": first.version,
            "created": first.created,
            "deployed": [o.__dict__ for o in outcomes],
            "report": [p.as_dict() for p in problems],
        }, 201


@blp.route("/instances")
class InstancesResource(MethodView):
    @blp.arguments(s.StartInstanceSchema)
    @blp.response(201, s.InstanceSchema)
    @_responses(401, 403, 404, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a process instance at an org unit."""
        instance = instances.start_instance(
            current_user(), body["process_key"], body["org_unit_id"], body["data"]
        )
        return _instance_view(instance)


@blp.route("/instances/<int:instance_id>")
class InstanceResource(MethodView):
    @blp.response(200, s.InstanceSchema)
    @_responses(401, 404)
    def get(self, instance_id: int) -> dict[str, Any]:
        """An instance with its open tasks."""
        return _instance_view(instances.get_instance(current_user(), instance_id))


@blp.route("/instances/<int:instance_id>/history")
class InstanceHistoryResource(MethodView):
    @blp.response(200, s.AuditEventSchema(many=True))
    @_responses(401, 404)
    def get(self, instance_id: int) -> list[dict[str, Any]]:
        """Audit events of the instance, oldest first."""
        return instances.history(current_user(), instance_id)


@blp.route("/tasks")
class TasksResource(MethodView):
    @blp.arguments(s.TaskListArgsSchema, location="query")
    @blp.response(200, s.TaskPageSchema)
    @_responses(401, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Open tasks offered to or claimed by the caller."""
        return s.page_body(
            tasks.inbox(current_user(), args["scope"], args["page"], args["per_page"])
        )


@blp.route("/tasks/<int:task_id>")
class TaskResource(MethodView):
    @blp.response(200, s.TaskDetailSchema)
    @_responses(401, 404)
    def get(self, task_id: int) -> Any:
        """A task with its form and the data it shows."""
        task, form, data = tasks.get_task(current_user(), task_id)
        return _TaskDetail(task, form, data)


@blp.route("/tasks/<int:task_id>/claim")
class ClaimResource(MethodView):
    @blp.response(200, s.TaskSchema)
    @_responses(401, 403, 404, 409)
    def post(self, task_id: int) -> Any:
        """Claim a task."""
        return tasks.claim(current_user(), task_id)


@blp.route("/tasks/<int:task_id>/unclaim")
class UnclaimResource(MethodView):
    @blp.response(200, s.TaskSchema)
    @_responses(401, 403, 404, 409)
    def post(self, task_id: int) -> Any:
        """Give a claimed task back."""
        return tasks.unclaim(current_user(), task_id)


@blp.route("/tasks/<int:task_id>/delegate")
class DelegateResource(MethodView):
    @blp.arguments(s.DelegateSchema)
    @blp.response(200, s.TaskSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: int) -> Any:
        """Delegate a task to a colleague with the same role in scope."""
        return tasks.delegate(current_user(), task_id, body["username"])


@blp.route("/tasks/<int:task_id>/complete")
class CompleteResource(MethodView):
    @blp.arguments(s.CompleteTaskSchema)
    @blp.response(200, s.CompleteResultSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: int) -> dict[str, Any]:
        """Complete a task with form data."""
        instance = tasks.complete(current_user(), task_id, body["data"])
        return {"instance": _instance_view(instance)}


@blp.route("/instances/<int:instance_id>/attachments")
class AttachmentsResource(MethodView):
    @blp.response(200, s.AttachmentSchema(many=True))
    @_responses(401, 404)
    def get(self, instance_id: int) -> list[dict[str, Any]]:
        """Files attached to the instance (uploaded and generated)."""
        found = documents.list_attachments(current_user(), instance_id)
        return [documents.describe(a) for a in found]

    @blp.response(201, s.AttachmentSchema)
    @_responses(401, 404, 409, 413, 422)
    def post(self, instance_id: int) -> tuple[dict[str, Any], int]:
        """Attach a file (multipart field `file`)."""
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("Не передан файл.", {"file": ["Добавьте файл."]})
        content = upload.read(documents.MAX_ATTACHMENT_BYTES + 1)
        attachment = documents.add_attachment(
            current_user(),
            instance_id,
            upload.filename or "file",
            content,
            upload.mimetype or "application/octet-stream",
        )
        return documents.describe(attachment), 201


@blp.route("/attachments/<int:attachment_id>/download")
class DownloadResource(MethodView):
    @_responses(401, 404)
    def get(self, attachment_id: int) -> Any:
        """The attachment's content."""
        attachment, content = documents.download(current_user(), attachment_id)
        response = download(content, attachment.filename, attachment.content_type)
        response.headers["X-Content-SHA256"] = attachment.sha256
        return response


@blp.route("/instances/<int:instance_id>/comments")
class CommentsResource(MethodView):
    @blp.response(200, s.CommentSchema(many=True))
    @_responses(401, 404)
    def get(self, instance_id: int) -> list[Any]:
        """Comments on the instance, oldest first."""
        return documents.list_comments(current_user(), instance_id)

    @blp.arguments(s.NewCommentSchema)
    @blp.response(201, s.CommentSchema)
    @_responses(401, 404, 409, 422)
    def post(self, body: dict[str, Any], instance_id: int) -> Any:
        """Add a comment to an open instance."""
        return documents.add_comment(current_user(), instance_id, body["body"])
