"""Marshmallow schemas of the REST API, kept at the HTTP edge."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

# Ids in queries must fit the id columns (32-bit on PostgreSQL): larger ones are refused
# here (422) instead of failing in the database, possibly inside a streamed answer.
DB_ID_RANGE = validate.Range(min=-(2**31), max=2**31 - 1)


class ApiErrorSchema(Schema):
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=150))
    password = fields.String(required=True, validate=validate.Length(min=1, max=500))


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_in = fields.Integer()


class GrantSchema(Schema):
    role = fields.String()
    org_unit_id = fields.Integer()
    org_unit_slug = fields.String()


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    full_name = fields.String()
    grants = fields.List(fields.Nested(GrantSchema))


class OrgUnitSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    tier = fields.String()
    parent_id = fields.Integer(allow_none=True)


class ProcessSchema(Schema):
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    scope_tier = fields.String(allow_none=True)
    start_role = fields.String(allow_none=True)
    deployed_at = fields.DateTime()


class ReportRowSchema(Schema):
    file = fields.String()
    element_id = fields.String(allow_none=True)
    message = fields.String()
    severity = fields.String()


class DeployResultSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    created = fields.Boolean()
    deployed = fields.List(fields.Dict())
    report = fields.List(fields.Nested(ReportRowSchema))


class TaskSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    process_key = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    state = fields.String(attribute="status")
    org_unit_id = fields.Integer(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    claimed_by = fields.String(attribute="claimed_by_username", allow_none=True)
    title = fields.String(attribute="instance_title")
    # Set in the caller's inbox: the away user this task is offered to, when seen as substitute.
    on_behalf_of = fields.String(allow_none=True, dump_default=None)


class TaskDetailSchema(TaskSchema):
    form = fields.Dict(allow_none=True)
    data = fields.Dict()
    documentation = fields.String()


class InstanceSchema(Schema):
    id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer()
    status = fields.String()
    org_unit_id = fields.Integer()
    title = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    next_timer_at = fields.DateTime(allow_none=True)
    tasks = fields.List(fields.Nested(TaskSchema))


class StartInstanceSchema(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=100))
    org_unit_id = fields.Integer(required=True, strict=True)
    data = fields.Dict(load_default=dict)


class CompleteTaskSchema(Schema):
    data = fields.Dict(load_default=dict)


class CompleteResultSchema(Schema):
    instance = fields.Nested(InstanceSchema)


class DelegateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=150))


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TaskListArgsSchema(PageArgsSchema):
    scope = fields.String(
        load_default="mine", validate=validate.OneOf(["mine", "claimed", "available"])
    )


class AuditEventSchema(Schema):
    seq = fields.Integer()
    occurred_at = fields.String()
    actor = fields.String(allow_none=True)
    kind = fields.String()
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    org_unit_id = fields.Integer(allow_none=True)
    payload = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditArgsSchema(PageArgsSchema):
    instance_id = fields.Integer()
    actor = fields.String()
    kind = fields.String()
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()


class VerifySchema(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    first_bad_seq = fields.Integer(allow_none=True)


def page_body(result: Any, items: list[Any] | None = None) -> dict[str, Any]:
    """The body of a paginated answer: a service page (items, total, page, per_page)."""
    return {
        "items": items if items is not None else result.items,
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
    }


def error_responses(blueprint: Any, *codes: int) -> Any:
    """Document the {message, errors} error body for each status code on an endpoint."""

    def wrap(func: Any) -> Any:
        for code in codes:
            func = blueprint.alt_response(code, schema=ApiErrorSchema, description="Ошибка")(func)
        return func

    return wrap


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A paginated list schema {items,total,page,per_page} of item."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
        },
        name=name,
    )


TaskPageSchema = page_schema(TaskSchema, "TaskPage")
AuditPageSchema = page_schema(AuditEventSchema, "AuditPage")


class AttachmentSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    kind = fields.String()
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CommentSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    author = fields.String(attribute="author.username")
    body = fields.String()
    created_at = fields.DateTime()


class NewCommentSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))
