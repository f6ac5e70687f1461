"""REST API of the auditor's workspace: the log with filters, verification, exports,
retention report and instance timelines; and the rule that auditors only read."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Response, jsonify, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..services import audit, audit_export, audit_log, retention, timeline
from ..services.audit_log import AuditFilter
from ..services.errors import ServiceError
from . import schemas as s
from .auth import current_user

blp = Blueprint(
    "audit_api", __name__, url_prefix="/api/v1", description="Журнал аудита и история процессов"
)

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The auditor's own account (signing in and out, password, own notifications and settings)
# is not data of the system; everything else that writes, an auditor may not do.
OWN_ACCOUNT_PREFIXES = ("/api/v1/auth/", "/api/v1/me/", "/api/v1/notifications/")
READ_ONLY_MESSAGE = "Аудитор имеет доступ только на чтение: изменять данные нельзя."


@blp.before_app_request
def refuse_read_only_writers() -> Any:
    """Refuse every API write by a user whose only role is auditor (403)."""
    if request.method not in _WRITE_METHODS or not request.path.startswith("/api/"):
        return None
    if (request.path.rstrip("/") + "/").startswith(OWN_ACCOUNT_PREFIXES):
        return None
    if not request.headers.get("Authorization", "").lower().startswith("bearer "):
        return None
    try:
        user = current_user()
    except ServiceError:
        return None  # the endpoint answers 401 itself
    if audit_log.is_read_only(user):
        return jsonify({"message": READ_ONLY_MESSAGE, "errors": {}}), 403
    return None


class AuditFilterArgsSchema(Schema):
    process_key = fields.String(validate=validate.Length(min=1, max=100))
    instance_id = fields.Integer(validate=s.DB_ID_RANGE)
    task_id = fields.Integer(validate=s.DB_ID_RANGE)
    actor = fields.String(validate=validate.Length(min=1, max=150))
    org_unit_id = fields.Integer(validate=s.DB_ID_RANGE)
    kind = fields.String(
        metadata={"description": "Вид события; несколько — через запятую."},
        validate=validate.Length(min=1, max=1000),
    )
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()


class AuditListArgsSchema(AuditFilterArgsSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class AuditExportArgsSchema(AuditFilterArgsSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "jsonl"]))


class VerifyResultSchema(s.VerifySchema):
    reason = fields.String(
        allow_none=True,
        metadata={"description": "hash, link, missing или checkpoint; null, если цепочка цела."},
    )


class RetentionArgsSchema(Schema):
    as_of = fields.AwareDateTime()


class RetentionRowSchema(Schema):
    process_key = fields.String()
    years = fields.Integer()
    cutoff = fields.DateTime()
    instances = fields.Integer()
    events = fields.Integer()
    oldest_end = fields.DateTime(allow_none=True)
    newest_end = fields.DateTime(allow_none=True)


class RetentionReportSchema(Schema):
    as_of = fields.DateTime()
    instances = fields.Integer()
    events = fields.Integer()
    processes = fields.List(fields.Nested(RetentionRowSchema))


class StepEventSchema(Schema):
    seq = fields.Integer()
    kind = fields.String()
    occurred_at = fields.DateTime()
    actor = fields.String(allow_none=True)
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)


class TimelineStepSchema(Schema):
    task_id = fields.Integer()
    bpmn_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    org_unit_id = fields.Integer(allow_none=True)
    status = fields.String()
    legal_basis = fields.String()
    offered_at = fields.DateTime(allow_none=True)
    offered_to = fields.List(fields.String())
    claimed_at = fields.DateTime(allow_none=True)
    claimed_by = fields.String(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    waiting_seconds = fields.Integer(allow_none=True)
    work_seconds = fields.Integer(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)
    data = fields.Dict(allow_none=True)
    events = fields.List(fields.Nested(StepEventSchema))


class TimelineInstanceSchema(Schema):
    id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer()
    title = fields.String()
    status = fields.String()
    org_unit_id = fields.Integer()
    started_at = fields.DateTime()
    started_by = fields.String(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


class TimelineSchema(Schema):
    instance = fields.Nested(TimelineInstanceSchema)
    duration_seconds = fields.Integer(allow_none=True)
    steps = fields.List(fields.Nested(TimelineStepSchema))
    path = fields.List(fields.String(), allow_none=True)
    current = fields.List(fields.String())
    events = fields.List(fields.Nested(s.AuditEventSchema))


_responses = partial(s.error_responses, blp)


def audit_filter(args: dict[str, Any]) -> AuditFilter:
    """The filters of a request's query arguments."""
    return AuditFilter(
        process_key=args.get("process_key"),
        instance_id=args.get("instance_id"),
        task_id=args.get("task_id"),
        actor=args.get("actor"),
        org_unit_id=args.get("org_unit_id"),
        kinds=audit_log.parse_kinds(args.get("kind")),
        since=args.get("since"),
        until=args.get("until"),
    )


@blp.route("/audit")
class AuditResource(MethodView):
    @blp.arguments(AuditListArgsSchema, location="query")
    @blp.response(200, s.AuditPageSchema)
    @_responses(401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Audit events in the caller's scope (auditors and admins), oldest first."""
        result = audit_log.events(
            current_user(), audit_filter(args), page=args["page"], per_page=args["per_page"]
        )
        return s.page_body(result, [audit.serialize(e) for e in result.items])


@blp.route("/audit/verify")
class AuditVerifyResource(MethodView):
    @blp.response(200, VerifyResultSchema)
    @_responses(401, 403)
    def get(self) -> dict[str, Any]:
        """Recompute the audit hash chain and name the first broken link."""
        audit_log.require_reader(current_user())
        return audit.verify()


@blp.route("/audit/export")
class AuditExportResource(MethodView):
    @blp.arguments(AuditExportArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "CSV или JSON Lines с полями цепочки хешей, потоком",
                "content": {"text/csv": {}, "application/x-ndjson": {}},
            }
        }
    )
    @_responses(401, 403, 422)
    def get(self, args: dict[str, Any]) -> Response:
        """Export a filtered view of the log (CSV or JSON Lines), streamed, checkable offline."""
        export = audit_export.start_export(
            current_user(), audit_filter(args), args["format"], via="api"
        )
        response = Response(stream_with_context(export.chunks()), content_type=export.mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response.headers["X-Audit-Through-Seq"] = str(export.upto_seq)
        return response


@blp.route("/audit/retention")
class RetentionResource(MethodView):
    @blp.arguments(RetentionArgsSchema, location="query")
    @blp.response(200, RetentionReportSchema)
    @_responses(401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Instances past their retention period in the caller's scope (nothing is deleted)."""
        scope = audit_log.reader_scope(current_user())
        units = set(scope.unit_ids) if scope.unit_ids is not None else None
        return retention.report(args.get("as_of"), units).as_dict()


@blp.route("/instances/<int:instance_id>/timeline")
class TimelineResource(MethodView):
    @blp.response(200, TimelineSchema)
    @_responses(401, 404)
    def get(self, instance_id: int) -> dict[str, Any]:
        """The instance's story: steps with times, people, durations, legal basis, path."""
        return timeline.timeline(current_user(), instance_id).as_dict()
