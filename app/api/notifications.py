"""REST API: in-app notifications, notification settings and the overdue view."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..services import notifications, timers
from .auth import current_user
from .schemas import PageArgsSchema, error_responses

blp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/api/v1",
    description="Уведомления, настройки уведомлений и просроченные задачи",
)


_responses = partial(error_responses, blp)


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    email_status = fields.String()


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    unread = fields.Integer()


class NotificationListArgsSchema(PageArgsSchema):
    unread = fields.Boolean(load_default=False)


class UnreadSchema(Schema):
    unread = fields.Integer()


class MarkedSchema(Schema):
    marked = fields.Integer()


class SettingsSchema(Schema):
    channel = fields.String()
    daily_digest = fields.Boolean()
    email = fields.String(allow_none=True)
    email_configured = fields.Boolean()


class SettingsUpdateSchema(Schema):
    channel = fields.String(
        required=True,
        validate=validate.OneOf(notifications.CHANNELS, error="Допустимо: email, in_app."),
    )
    daily_digest = fields.Boolean(load_default=False)


class OverdueTaskSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    process_key = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    due_at = fields.DateTime()
    overdue_days = fields.Integer()
    claimed_by = fields.String(allow_none=True)
    org_unit_id = fields.Integer()
    municipality_id = fields.Integer()
    title = fields.String()


class MunicipalityCountSchema(Schema):
    org_unit_id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    tier = fields.String()
    count = fields.Integer()


class ProcessCountSchema(Schema):
    process_key = fields.String()
    name = fields.String()
    count = fields.Integer()


class OverdueSchema(Schema):
    items = fields.List(fields.Nested(OverdueTaskSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    by_municipality = fields.List(fields.Nested(MunicipalityCountSchema))
    by_process = fields.List(fields.Nested(ProcessCountSchema))


@blp.route("/notifications")
class NotificationsResource(MethodView):
    @blp.arguments(NotificationListArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    @_responses(401, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The caller's notifications, newest first, with the unread count."""
        return notifications.list_notifications(
            current_user(), args["unread"], args["page"], args["per_page"]
        )


@blp.route("/notifications/unread-count")
class UnreadCountResource(MethodView):
    @blp.response(200, UnreadSchema)
    @_responses(401)
    def get(self) -> dict[str, int]:
        """How many of the caller's notifications are unread."""
        return {"unread": notifications.unread_count(current_user())}


@blp.route("/notifications/<int:notification_id>/read")
class ReadResource(MethodView):
    @blp.response(200, NotificationSchema)
    @_responses(401, 404)
    def post(self, notification_id: int) -> Any:
        """Mark one notification as read."""
        return notifications.mark_read(current_user(), notification_id)


@blp.route("/notifications/read-all")
class ReadAllResource(MethodView):
    @blp.response(200, MarkedSchema)
    @_responses(401)
    def post(self) -> dict[str, int]:
        """Mark every notification of the caller as read."""
        return {"marked": notifications.mark_all_read(current_user())}


@blp.route("/me/notification-settings")
class SettingsResource(MethodView):
    @blp.response(200, SettingsSchema)
    @_responses(401)
    def get(self) -> dict[str, Any]:
        """How the caller is notified."""
        return notifications.preferences(current_user())

    @blp.arguments(SettingsUpdateSchema)
    @blp.response(200, SettingsSchema)
    @_responses(401, 422)
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Choose e-mail or in-app only, and a daily digest instead of single e-mails."""
        return notifications.update_preferences(
            current_user(), body["channel"], body["daily_digest"]
        )


@blp.route("/overdue")
class OverdueResource(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, OverdueSchema)
    @_responses(401, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Overdue open tasks under the units the caller supervises, grouped."""
        return timers.overdue_tasks(current_user(), None, args["page"], args["per_page"])
