"""REST API of administration: org units, users, grants, substitutions, tasks, import, my data.

Every call is checked by the services against the caller's admin scope. User records are
serialised by what the caller may see: the full record for the user's admin (and the user),
the name and current roles for everyone else.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..models import Substitution
from ..services import admin, admin_users, my_data, org_import, substitution, task_admin
from ..services.errors import ValidationFailed
from .auth import current_user
from .schemas import DB_ID_RANGE, PageArgsSchema, error_responses, page_body

blp = Blueprint(
    "admin_api",
    __name__,
    url_prefix="/api/v1",
    description="Администрирование: организации, пользователи, роли, замещения, задачи, импорт",
)
MAX_IMPORT_BYTES = 20 * 1024 * 1024


_responses = partial(error_responses, blp)


# --- schemas --------------------------------------------------------------------------------


class AdminUnitSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    tier = fields.String()
    parent_id = fields.Integer(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    depth = fields.Integer()


class UnitCreateSchema(Schema):
    slug = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    tier = fields.String(required=True)
    parent_id = fields.Integer(allow_none=True, load_default=None)


class UnitChangeSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=300))
    parent_id = fields.Integer()


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RoleRefSchema(Schema):
    role = fields.String()
    org_unit_id = fields.Integer()
    org_unit_slug = fields.String()
    org_unit_name = fields.String()


class GrantViewSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    role = fields.String()
    org_unit_id = fields.Integer()
    org_unit_slug = fields.String()
    org_unit_name = fields.String()
    valid_from = fields.DateTime(allow_none=True)
    valid_to = fields.DateTime(allow_none=True)
    reason = fields.String()
    status = fields.String()
    revoked_at = fields.DateTime(allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class UserRecordSchema(Schema):
    """Brief (id, username, full_name, roles) or full (all fields) by the caller's rights."""

    id = fields.Integer()
    username = fields.String()
    full_name = fields.String()
    roles = fields.List(fields.Nested(RoleRefSchema))
    full = fields.Boolean()
    email = fields.String(allow_none=True)
    is_active = fields.Boolean()
    auth_source = fields.String()
    must_set_password = fields.Boolean()
    created_at = fields.DateTime()
    grants = fields.List(fields.Nested(GrantViewSchema))


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(UserRecordSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class UserSearchArgsSchema(PageArgsSchema):
    q = fields.String(load_default="")
    org_unit_id = fields.Integer(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=None, allow_none=True)
    in_scope = fields.Boolean(load_default=False)


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=150))
    full_name = fields.String(load_default="", validate=validate.Length(max=300))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    password = fields.String(load_default=None, allow_none=True)
    auth_source = fields.String(load_default="local", validate=validate.OneOf(["local", "ldap"]))


class UserCreatedSchema(Schema):
    user = fields.Nested(UserRecordSchema)
    setup_token = fields.String(allow_none=True)
    setup_expires_at = fields.DateTime(allow_none=True)


class SetupTokenSchema(Schema):
    setup_token = fields.String()
    expires_at = fields.DateTime()


class PasswordSetupSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, validate=validate.Length(min=1, max=500))


class GrantCreateSchema(Schema):
    user_id = fields.Integer(required=True)
    role = fields.String(required=True)
    org_unit_id = fields.Integer(required=True)
    valid_from = fields.DateTime(load_default=None, allow_none=True)
    valid_to = fields.DateTime(load_default=None, allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class SubstitutionSchema(Schema):
    id = fields.Integer()
    away_user_id = fields.Integer()
    away_username = fields.String(attribute="away_user.username")
    substitute_id = fields.Integer()
    substitute_username = fields.String(attribute="substitute.username")
    valid_from = fields.DateTime()
    valid_to = fields.DateTime()
    reason = fields.String()
    cancelled_at = fields.DateTime(allow_none=True)
    status = fields.Method("_status")

    def _status(self, obj: Substitution) -> str:
        return substitution.status(obj)


class SubstitutionCreateSchema(Schema):
    away_user_id = fields.Integer(required=True)
    substitute_id = fields.Integer(required=True)
    valid_from = fields.DateTime(required=True)
    valid_to = fields.DateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class SubstitutionPageSchema(Schema):
    items = fields.List(fields.Nested(SubstitutionSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class SubstitutionArgsSchema(PageArgsSchema):
    user_id = fields.Integer(load_default=None, allow_none=True)
    current = fields.Boolean(load_default=False)


class ImportReportSchema(Schema):
    dry_run = fields.Boolean()
    units_created = fields.Integer()
    users_created = fields.Integer()
    grants_created = fields.Integer()
    setup_tokens = fields.Dict(keys=fields.String(), values=fields.String())


class MyDataArgsSchema(Schema):
    download = fields.Boolean(load_default=False)


class AdminTaskSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    instance_title = fields.String()
    process_key = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    org_unit_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    claimed_by = fields.String(attribute="claimed_by_username", allow_none=True)
    offered_to = fields.Method("_offered_to")

    def _offered_to(self, obj: Any) -> list[str]:
        return sorted(c.user.username for c in obj.candidates)


class AdminTaskPageSchema(Schema):
    items = fields.List(fields.Nested(AdminTaskSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class AdminTaskArgsSchema(PageArgsSchema):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    org_unit_id = fields.Integer(load_default=None, allow_none=True, validate=DB_ID_RANGE)
    assignee = fields.String(load_default=None, allow_none=True)


class ReassignSchema(Schema):
    username = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=150))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# --- org units ------------------------------------------------------------------------------


def _unit_view(unit: Any, depth: int = 0) -> dict[str, Any]:
    return {
        "id": unit.id,
        "slug": unit.slug,
        "name": unit.name,
        "tier": unit.tier,
        "parent_id": unit.parent_id,
        "closed_at": unit.closed_at,
        "depth": depth,
    }


@blp.route("/admin/org-units")
class AdminUnitsResource(MethodView):
    @blp.response(200, AdminUnitSchema(many=True))
    @_responses(401, 403)
    def get(self) -> list[dict[str, Any]]:
        """The org units of the caller's admin scope, as a tree (depth-first), closed ones too."""
        return [_unit_view(n.unit, n.depth) for n in admin.tree(current_user())]

    @blp.arguments(UnitCreateSchema)
    @blp.response(201, AdminUnitSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an org unit under a unit of the caller's scope."""
        unit = admin.create_unit(
            current_user(), body["slug"], body["name"], body["tier"], body["parent_id"]
        )
        return _unit_view(unit)


@blp.route("/admin/org-units/<int:unit_id>")
class AdminUnitResource(MethodView):
    @blp.arguments(UnitChangeSchema)
    @blp.response(200, AdminUnitSchema)
    @_responses(401, 403, 404, 409, 422)
    def patch(self, body: dict[str, Any], unit_id: int) -> dict[str, Any]:
        """Rename (name) and/or move (parent_id) an org unit."""
        actor = current_user()
        if not body:
            raise ValidationFailed("Нечего менять.", {"name": ["Укажите name или parent_id."]})
        unit = None
        if "name" in body:
            unit = admin.rename_unit(actor, unit_id, body["name"])
        if "parent_id" in body:
            unit = admin.move_unit(actor, unit_id, body["parent_id"])
        return _unit_view(unit)


@blp.route("/admin/org-units/<int:unit_id>/close")
class AdminUnitCloseResource(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, AdminUnitSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], unit_id: int) -> dict[str, Any]:
        """Close an org unit (no open children, no running processes); its grants end."""
        return _unit_view(admin.close_unit(current_user(), unit_id, body["reason"]))


# --- users ----------------------------------------------------------------------------------


@blp.route("/admin/users")
class AdminUsersResource(MethodView):
    @blp.arguments(UserSearchArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    @_responses(401)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search users; each record is full or brief by what the caller may see."""
        result = admin_users.search_users(
            current_user(),
            args["q"],
            org_unit_id=args["org_unit_id"],
            active=args["active"],
            in_scope_only=args["in_scope"],
            page=args["page"],
            per_page=args["per_page"],
        )
        return page_body(result, [admin_users.describe(r) for r in result.items])

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserCreatedSchema)
    @_responses(401, 403, 409, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a user (no roles yet); without a password a one-time setup token is returned."""
        actor = current_user()
        created = admin_users.create_user(
            actor,
            body["username"],
            body["full_name"],
            body["email"],
            body["password"],
            body["auth_source"],
        )
        record = admin_users.UserRecord(created.user, True, [])
        return {
            "user": admin_users.describe(record),
            "setup_token": created.setup_token,
            "setup_expires_at": admin_users.setup_expiry(created.user),
        }


@blp.route("/admin/users/<int:user_id>")
class AdminUserResource(MethodView):
    @blp.response(200, UserRecordSchema)
    @_responses(401, 404)
    def get(self, user_id: int) -> dict[str, Any]:
        """One user: the full record for their admin, name and roles for others."""
        return admin_users.describe(admin_users.get_user(current_user(), user_id))


def _full(user: Any) -> dict[str, Any]:
    return admin_users.describe(admin_users.UserRecord(user, True, admin.grants_of(user)))


@blp.route("/admin/users/<int:user_id>/deactivate")
class AdminUserDeactivateResource(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, UserRecordSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], user_id: int) -> dict[str, Any]:
        """Deactivate a user: no more logins, API tokens revoked."""
        return _full(admin_users.deactivate_user(current_user(), user_id, body["reason"]))


@blp.route("/admin/users/<int:user_id>/activate")
class AdminUserActivateResource(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, UserRecordSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], user_id: int) -> dict[str, Any]:
        """Activate a deactivated user again."""
        return _full(admin_users.activate_user(current_user(), user_id, body["reason"]))


@blp.route("/admin/users/<int:user_id>/reset-password")
class AdminUserResetResource(MethodView):
    @blp.response(200, SetupTokenSchema)
    @_responses(401, 403, 404, 409)
    def post(self, user_id: int) -> dict[str, Any]:
        """Invalidate the password; returns a one-time setup token (shown once)."""
        actor = current_user()
        token = admin_users.reset_password(actor, user_id)
        user = admin_users.get_user(actor, user_id).user
        return {"setup_token": token, "expires_at": user.password_setup_expires_at}


@blp.route("/auth/password-setup")
class PasswordSetupResource(MethodView):
    @blp.arguments(PasswordSetupSchema)
    @blp.response(204)
    @_responses(401, 422)
    def post(self, body: dict[str, Any]) -> None:
        """Set one's password with the one-time token from an admin (no login needed)."""
        admin_users.set_password_with_token(body["token"], body["password"])


# --- grants ---------------------------------------------------------------------------------


@blp.route("/admin/users/<int:user_id>/grants")
class AdminUserGrantsResource(MethodView):
    @blp.response(200, GrantViewSchema(many=True))
    @_responses(401, 403, 404)
    def get(self, user_id: int) -> list[dict[str, Any]]:
        """All grants of a user in the caller's scope, with periods and status."""
        scope = admin.require_admin(current_user())
        user = admin.require_user(user_id, scope)
        return [admin_users.describe_grant(g) for g in admin.grants_of(user)]


@blp.route("/admin/grants")
class AdminGrantsResource(MethodView):
    @blp.arguments(GrantCreateSchema)
    @blp.response(201, GrantViewSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Grant a role at a unit for a period (valid_to empty: open-ended), with a reason."""
        grant = admin.grant_role(
            current_user(),
            body["user_id"],
            body["role"],
            body["org_unit_id"],
            body["reason"],
            body["valid_from"],
            body["valid_to"],
        )
        return admin_users.describe_grant(grant)


@blp.route("/admin/grants/<int:grant_id>/revoke")
class AdminGrantRevokeResource(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, GrantViewSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], grant_id: int) -> dict[str, Any]:
        """End a grant now, with a reason (the record stays for history)."""
        return admin_users.describe_grant(
            admin.revoke_grant(current_user(), grant_id, body["reason"])
        )


# --- substitutions --------------------------------------------------------------------------


@blp.route("/admin/substitutions")
class SubstitutionsResource(MethodView):
    @blp.arguments(SubstitutionArgsSchema, location="query")
    @blp.response(200, SubstitutionPageSchema)
    @_responses(401, 403, 404)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Substitutions of users in the caller's scope (or of one user)."""
        result = substitution.list_for(
            current_user(),
            args["user_id"],
            current_only=args["current"],
            page=args["page"],
            per_page=args["per_page"],
        )
        return page_body(result)

    @blp.arguments(SubstitutionCreateSchema)
    @blp.response(201, SubstitutionSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> Substitution:
        """Name a substitute for an away user for a period."""
        return substitution.create(
            current_user(),
            body["away_user_id"],
            body["substitute_id"],
            body["valid_from"],
            body["valid_to"],
            body["reason"],
        )


@blp.route("/admin/substitutions/<int:substitution_id>/cancel")
class SubstitutionCancelResource(MethodView):
    @blp.arguments(ReasonSchema)
    @blp.response(200, SubstitutionSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], substitution_id: int) -> Substitution:
        """End a substitution now (or drop a planned one)."""
        return substitution.cancel(current_user(), substitution_id, body["reason"])


# --- open tasks: reassignment by an admin -----------------------------------------------------


@blp.route("/admin/tasks")
class AdminTasksResource(MethodView):
    @blp.arguments(AdminTaskArgsSchema, location="query")
    @blp.response(200, AdminTaskPageSchema)
    @_responses(401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Open human tasks in the caller's admin scope (q: name or title; assignee "-": free)."""
        result = task_admin.open_tasks(
            current_user(),
            q=args["q"],
            org_unit_id=args["org_unit_id"],
            assignee=args["assignee"],
            page=args["page"],
            per_page=args["per_page"],
        )
        return page_body(result)


@blp.route("/admin/tasks/<int:task_id>/reassign")
class AdminTaskReassignResource(MethodView):
    @blp.arguments(ReassignSchema)
    @blp.response(200, AdminTaskSchema)
    @_responses(401, 403, 404, 409, 422)
    def post(self, body: dict[str, Any], task_id: int) -> Any:
        """Give an open task to another holder of its lane role (username null: release it)."""
        return task_admin.reassign(current_user(), task_id, body["username"], body["reason"])


# --- import ---------------------------------------------------------------------------------


@blp.route("/admin/import")
class ImportResource(MethodView):
    @blp.response(200, ImportReportSchema)
    @_responses(400, 401, 403, 422)
    def post(self) -> dict[str, Any]:
        """Import a CSV (multipart field `file`; form field dry_run=true to only check)."""
        actor = current_user()
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("Не передан файл.", {"file": ["Добавьте CSV в поле file."]})
        raw = upload.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            raise ValidationFailed("Файл слишком большой.", {"file": ["До 20 МБ."]})
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                "Файл не в кодировке UTF-8.", {"file": ["Сохраните CSV в UTF-8."]}
            ) from exc
        dry_run = (request.form.get("dry_run") or "").lower() in ("1", "true", "yes", "on")
        report = org_import.import_csv(text, actor, dry_run=dry_run)
        return {
            "dry_run": report.dry_run,
            "units_created": report.units_created,
            "users_created": report.users_created,
            "grants_created": report.grants_created,
            "setup_tokens": report.setup_tokens,
        }


# --- my data --------------------------------------------------------------------------------


@blp.route("/me/data")
class MyDataResource(MethodView):
    @blp.arguments(MyDataArgsSchema, location="query")
    @blp.response(200)
    @_responses(401)
    def get(self, args: dict[str, Any]) -> Response:
        """Everything the system holds about the caller; ?download=true as a JSON file."""
        actor = current_user()
        data = my_data.collect(actor, download=args["download"])
        body = current_app.json.dumps(data, indent=2)
        response = Response(body, mimetype="application/json")
        if args["download"]:
            response.headers["Content-Disposition"] = (
                f'attachment; filename="my-data-{actor.username}.json"'
            )
        return response
