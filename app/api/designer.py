"""REST API of the process designer: versions, dry-run validation, compare, migrate."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from ..services import deployment, designer, instance_migration, process_compare
from . import schemas as s
from .auth import current_user

blp = Blueprint(
    "designer_api",
    __name__,
    url_prefix="/api/v1",
    description="Разработка процессов: версии, проверка, сравнение, перенос экземпляров",
)


class DesignerReportRowSchema(Schema):
    file = fields.String()
    element_id = fields.String(allow_none=True)
    message = fields.String()
    severity = fields.String()
    code = fields.String()


class DesignerInstanceCountsSchema(Schema):
    running = fields.Integer()
    waiting = fields.Integer()
    completed = fields.Integer()
    error = fields.Integer()
    terminated = fields.Integer()
    active = fields.Integer()
    total = fields.Integer()


class DesignerVersionSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    sha256 = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    deployed_by_name = fields.String(allow_none=True)
    instances = fields.Nested(DesignerInstanceCountsSchema)
    files = fields.List(fields.String())
    forms = fields.List(fields.String())
    latest = fields.Boolean()


class DesignerVersionContentSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    sha256 = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    main_file = fields.String()
    files = fields.Dict(keys=fields.String(), values=fields.String())
    forms = fields.Dict(keys=fields.String(), values=fields.Raw())


class DesignerDryRunProcessSchema(Schema):
    key = fields.String()
    name = fields.String()
    outcome = fields.String(metadata={"description": "new_process | new_version | unchanged"})
    version = fields.Integer()
    current_version = fields.Integer(allow_none=True)


class DesignerDryRunSchema(Schema):
    ok = fields.Boolean()
    report = fields.List(fields.Nested(DesignerReportRowSchema))
    processes = fields.List(fields.Nested(DesignerDryRunProcessSchema))


class DesignerCompareArgsSchema(Schema):
    from_version = fields.Integer(
        required=True, data_key="from", validate=validate.Range(min=1, max=1_000_000)
    )
    to_version = fields.Integer(
        required=True, data_key="to", validate=validate.Range(min=1, max=1_000_000)
    )


class DesignerMigrateRequestSchema(Schema):
    from_version = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))
    to_version = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))
    dry_run = fields.Boolean(load_default=False)
    instance_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1)),
        load_default=None,
        validate=validate.Length(max=10_000),
    )

    @validates_schema
    def _newer(self, data: dict[str, Any], **_: Any) -> None:
        if data["to_version"] <= data["from_version"]:
            raise ValidationError("Укажите версию новее исходной.", "to_version")


class DesignerMigratedSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    waiting = fields.List(fields.Dict())


class DesignerSkippedSchema(Schema):
    id = fields.Integer()
    reason = fields.String()
    elements = fields.List(fields.String())


class DesignerMigrateResultSchema(Schema):
    key = fields.String()
    from_version = fields.Integer()
    to_version = fields.Integer()
    dry_run = fields.Boolean()
    migrated = fields.List(fields.Nested(DesignerMigratedSchema))
    skipped = fields.List(fields.Nested(DesignerSkippedSchema))


def _errors(*codes: int) -> Any:
    def wrap(func: Any) -> Any:
        for code in codes:
            func = blp.alt_response(code, schema=s.ApiErrorSchema, description="Ошибка")(func)
        return func

    return wrap


def _uploaded_bundle() -> deployment.Bundle:
    uploads = [
        (u.filename or "", u.read(deployment.MAX_FILE_BYTES + 1))
        for u in request.files.getlist("files")
    ]
    return designer.bundle_from_uploads(uploads)


@blp.route("/processes/validate")
class ValidateResource(MethodView):
    @blp.response(200, DesignerDryRunSchema)
    @_errors(400, 401, 403, 422)
    def post(self) -> designer.DryRun:
        """Dry run of a deployment (multipart field `files`): the full report, nothing written."""
        actor = current_user()
        designer.require_designer(actor)
        return designer.validate_upload(actor, _uploaded_bundle())


@blp.route("/processes/<key>/versions")
class VersionsResource(MethodView):
    @blp.response(200, DesignerVersionSchema(many=True))
    @_errors(401, 403, 404)
    def get(self, key: str) -> list[dict[str, Any]]:
        """Every version of a process with who deployed it, when, and its instances."""
        return designer.list_versions(current_user(), key)


@blp.route("/processes/<key>/versions/<int:number>")
class VersionResource(MethodView):
    @blp.response(200, DesignerVersionContentSchema)
    @_errors(401, 403, 404)
    def get(self, key: str, number: int) -> dict[str, Any]:
        """One version's files (BPMN/DMN XML) and forms."""
        version = designer.get_version(current_user(), key, number)
        return {
            "key": version.key,
            "version": version.version,
            "name": version.name,
            "sha256": version.sha256,
            "deployed_at": version.deployed_at,
            "deployed_by": version.deployed_by.username if version.deployed_by else None,
            "main_file": designer.main_file(version),
            "files": version.files,
            "forms": version.forms,
        }


@blp.route("/processes/<key>/compare")
class CompareResource(MethodView):
    @blp.arguments(DesignerCompareArgsSchema, location="query")
    @blp.response(200)
    @_errors(401, 403, 404, 422)
    def get(self, args: dict[str, Any], key: str) -> dict[str, Any]:
        """Element-by-element differences between two versions (?from=1&to=2)."""
        return process_compare.compare(
            current_user(), key, args["from_version"], args["to_version"]
        )


@blp.route("/processes/<key>/migrate")
class MigrateResource(MethodView):
    @blp.arguments(DesignerMigrateRequestSchema)
    @blp.response(200, DesignerMigrateResultSchema)
    @_errors(401, 403, 404, 422)
    def post(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """Move running instances of one version to a newer one where their state allows."""
        return instance_migration.migrate_instances(
            current_user(),
            key,
            body["from_version"],
            body["to_version"],
            dry_run=body["dry_run"],
            instance_ids=body["instance_ids"],
        )
