"""REST API: signatures of an instance's generated documents, with their validity."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..services import signatures
from .auth import current_user
from .schemas import ApiErrorSchema

blp = Blueprint(
    "signatures", __name__, url_prefix="/api/v1", description="Подписи сформированных документов"
)


class SignatureSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    document_key = fields.String()
    attachment_id = fields.Integer()
    filename = fields.String()
    sha256 = fields.String()
    signer = fields.String()
    signer_name = fields.String()
    role = fields.String()
    task_id = fields.Integer(allow_none=True)
    signed_at = fields.DateTime()
    valid = fields.Boolean()
    reason = fields.String()


@blp.route("/instances/<int:instance_id>/signatures")
class SignaturesResource(MethodView):
    @blp.response(200, SignatureSchema(many=True))
    @blp.alt_response(401, schema=ApiErrorSchema, description="Ошибка")
    @blp.alt_response(404, schema=ApiErrorSchema, description="Ошибка")
    def get(self, instance_id: int) -> list[Any]:
        """Who signed which document of the instance, and whether the signature still counts."""
        return signatures.list_signatures(current_user(), instance_id)
