"""REST API: the caller's draft of a task form (what «Сохранить черновик» keeps in the UI)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..models import TaskDraft
from ..services import task_drafts
from .auth import current_user
from .schemas import error_responses

blp = Blueprint("task_drafts", __name__, url_prefix="/api/v1", description="Черновики форм задач")


class TaskDraftSchema(Schema):
    task_id = fields.Integer()
    data = fields.Dict()
    saved_at = fields.DateTime(allow_none=True)


class TaskDraftBodySchema(Schema):
    data = fields.Dict(required=True)


def _view(task_id: int, draft: TaskDraft | None) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "data": dict(draft.data) if draft else {},
        "saved_at": draft.saved_at if draft else None,
    }


@blp.route("/tasks/<int:task_id>/draft")
class TaskDraftResource(MethodView):
    @blp.response(200, TaskDraftSchema)
    @error_responses(blp, 401, 403, 404, 409)
    def get(self, task_id: int) -> dict[str, Any]:
        """The caller's saved draft of the task (empty data when none was saved)."""
        return _view(task_id, task_drafts.get(current_user(), task_id))

    @blp.arguments(TaskDraftBodySchema)
    @blp.response(200, TaskDraftSchema)
    @error_responses(blp, 401, 403, 404, 409, 422)
    def put(self, body: dict[str, Any], task_id: int) -> dict[str, Any]:
        """Keep the entered values of the task form, valid or not, for the caller."""
        return _view(task_id, task_drafts.save(current_user(), task_id, body["data"]))

    @blp.response(204)
    @error_responses(blp, 401, 403, 404, 409)
    def delete(self, task_id: int) -> None:
        """Forget the caller's draft of the task."""
        task_drafts.discard(current_user(), task_id)
