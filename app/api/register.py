"""REST API: the municipal register of methodists (members of the ММА), as JSON and CSV."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..downloads import csv_download
from ..services import mma_register
from .auth import current_user
from .schemas import PageArgsSchema, error_responses, page_body

blp = Blueprint(
    "register",
    __name__,
    url_prefix="/api/v1/register",
    description="Муниципальная база методистов — членов ММА",
)


_responses = partial(error_responses, blp)


class RegisterArgsSchema(PageArgsSchema):
    municipality = fields.String(required=True, validate=validate.Length(min=1, max=100))


class RegisterCsvArgsSchema(Schema):
    municipality = fields.String(required=True, validate=validate.Length(min=1, max=100))


class RegisterEntrySchema(Schema):
    number = fields.Integer()
    username = fields.String()
    full_name = fields.String()
    school_slug = fields.String(allow_none=True)
    school_name = fields.String(allow_none=True)
    included_at = fields.DateTime()
    source_instance_id = fields.Integer(allow_none=True)
    entry_number = fields.String(allow_none=True)


class RegisterPageSchema(Schema):
    municipality = fields.String()
    municipality_name = fields.String()
    items = fields.List(fields.Nested(RegisterEntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


@blp.route("/mma")
class MmaRegisterResource(MethodView):
    @blp.arguments(RegisterArgsSchema, location="query")
    @blp.response(200, RegisterPageSchema)
    @_responses(401, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The register of a municipality's methodists (paginated)."""
        result = mma_register.register_page(
            current_user(), args["municipality"], args["page"], args["per_page"]
        )
        return {
            "municipality": result.municipality.slug,
            "municipality_name": result.municipality.name,
            **page_body(result),
        }


@blp.route("/mma.csv")
class MmaRegisterCsvResource(MethodView):
    @blp.arguments(RegisterCsvArgsSchema, location="query")
    @_responses(401, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """The register of a municipality's methodists as a CSV file (UTF-8, semicolons)."""
        unit, text = mma_register.register_csv(current_user(), args["municipality"])
        return csv_download(text, f"ММА — {unit.name}.csv")
