"""REST API: the monitoring dashboard's figures and the instances behind each of them."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates

from ..services import monitoring, monitoring_drill
from ..services.monitoring_cycles import BUCKETS, PROCESS_KEYS
from ..services.monitoring_facts import SchoolYear
from .auth import current_user
from .schemas import error_responses

blp = Blueprint(
    "monitoring_api",
    __name__,
    url_prefix="/api/v1/monitoring",
    description="Мониторинг процедур по муниципалитетам и школам",
)

_responses = partial(error_responses, blp)


class MonitoringArgsSchema(Schema):
    year = fields.String(
        metadata={"description": "Учебный год «ГГГГ/ГГГГ» (по умолчанию текущий)"},
        validate=validate.Length(max=9),
    )
    municipality = fields.String(
        metadata={"description": "Код (slug) муниципалитета"},
        validate=validate.Length(min=1, max=100),
    )

    @validates("year")
    def _year(self, value: str, **kwargs: Any) -> None:
        if SchoolYear.parse(value) is None:
            raise ValidationError("Учебный год указывается как ГГГГ/ГГГГ, например 2025/2026.")


class DrillArgsSchema(MonitoringArgsSchema):
    figure = fields.String(required=True, validate=validate.OneOf(list(monitoring_drill.FIGURES)))
    school = fields.String(validate=validate.Length(min=1, max=100))
    process = fields.String(validate=validate.OneOf(list(PROCESS_KEYS)))
    step = fields.String(validate=validate.Length(min=1, max=200))
    bucket = fields.Integer(validate=validate.Range(min=0, max=5))


class AgreementSchema(Schema):
    instance_id = fields.Integer()
    outcome = fields.String()
    since = fields.DateTime(allow_none=True)
    registration_number = fields.String(allow_none=True, attribute="detail")


class RoadmapSchema(Schema):
    instance_id = fields.Integer()
    approved_at = fields.DateTime(allow_none=True)
    act_number = fields.String(allow_none=True, attribute="detail")
    measures = fields.Dict(keys=fields.String(), values=fields.Integer())
    overdue = fields.Dict(keys=fields.String(), values=fields.Integer())
    total = fields.Integer()
    total_overdue = fields.Integer()


class _CountsSchema(Schema):
    plans_approved = fields.Integer()
    plans_open = fields.Integer()
    attestation_open = fields.Integer()
    attestation_granted = fields.Integer()
    attestation_refused = fields.Integer()
    overdue_tasks = fields.Integer()
    mma_members = fields.Integer()


class SchoolFiguresSchema(_CountsSchema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    status = fields.String()


class MunicipalityFiguresSchema(_CountsSchema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    whole = fields.Boolean()
    agreement = fields.Nested(AgreementSchema, allow_none=True)
    agreements_open = fields.Integer()
    roadmap = fields.Nested(RoadmapSchema, allow_none=True)
    roadmaps_open = fields.Integer()
    mma_schools = fields.Integer()
    mma_selections_open = fields.Integer()
    schools_with_plan = fields.Integer()
    schools = fields.List(fields.Nested(SchoolFiguresSchema))


class ProcessCycleSchema(Schema):
    key = fields.String()
    name = fields.String()
    completed = fields.Integer()
    avg_days = fields.Float(allow_none=True)
    buckets = fields.List(fields.Integer())


class StepCycleSchema(Schema):
    process_key = fields.String()
    bpmn_id = fields.String()
    name = fields.String()
    completed = fields.Integer()
    avg_days = fields.Float(allow_none=True)
    bottleneck = fields.Boolean()


class DashboardSchema(Schema):
    year = fields.String()
    generated_at = fields.DateTime()
    bucket_bounds_days = fields.List(fields.Integer())
    municipalities = fields.List(fields.Nested(MunicipalityFiguresSchema))
    processes = fields.List(fields.Nested(ProcessCycleSchema))
    steps = fields.List(fields.Nested(StepCycleSchema))


class DrillRowSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    process_key = fields.String()
    status = fields.String()
    unit_name = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_at = fields.DateTime(allow_none=True)


class DrillSchema(Schema):
    figure = fields.String()
    year = fields.String()
    total = fields.Integer()
    items = fields.List(fields.Nested(DrillRowSchema))


def _common(args: dict[str, Any]) -> tuple[SchoolYear | None, int | None]:
    year = SchoolYear.parse(args["year"]) if args.get("year") else None
    slug = args.get("municipality")
    return year, monitoring.municipality_by_slug(slug) if slug else None


@blp.route("")
class MonitoringResource(MethodView):
    @blp.arguments(MonitoringArgsSchema, location="query")
    @blp.response(200, DashboardSchema)
    @_responses(401, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Figures of the caller's scope (region, municipality or school) for a school year."""
        year, municipality_id = _common(args)
        board = monitoring.dashboard(current_user(), year, municipality_id)
        return {
            "year": board.year.label,
            "generated_at": board.generated_at,
            "bucket_bounds_days": list(BUCKETS),
            "municipalities": board.municipalities,
            "processes": board.processes,
            "steps": board.steps,
        }


@blp.route("/instances")
class MonitoringDrillResource(MethodView):
    @blp.arguments(DrillArgsSchema, location="query")
    @blp.response(200, DrillSchema)
    @_responses(401, 403, 404, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The instances behind one figure (at most 500 listed; `total` counts all)."""
        year, municipality_id = _common(args)
        school_id = monitoring.school_by_slug(args["school"]) if args.get("school") else None
        result = monitoring_drill.drill(
            current_user(),
            args["figure"],
            year,
            municipality_id=municipality_id,
            school_id=school_id,
            process_key=args.get("process"),
            step=args.get("step"),
            bucket=args.get("bucket"),
        )
        return {
            "figure": result.figure,
            "year": result.year.label,
            "total": result.total,
            "items": result.rows,
        }
