"""Views of the process designer: parse input, call one service, render."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ...services import (
    deployment,
    designer,
    designer_drafts,
    instance_migration,
    process_compare,
)
from ...services.errors import ValidationFailed
from .. import jsonform
from ..common import actor, held_roles
from . import bp

MAX_UPLOAD_FILES = 50


@bp.route("/")
@login_required
def workspace() -> Any:
    """Processes with their versions and the instances running on each."""
    return render_template("designer/workspace.html", processes=designer.workspace(actor()))


def _uploads() -> deployment.Bundle:
    uploads = [
        (u.filename or "", u.read(deployment.MAX_FILE_BYTES + 1))
        for u in request.files.getlist("files")[:MAX_UPLOAD_FILES]
        if u.filename
    ]
    return designer.bundle_from_uploads(uploads)


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload() -> Any:
    """Upload .bpmn/.dmn/.json: validate (dry run) or deploy, always with the full report."""
    designer.require_designer(actor())
    if request.method == "GET":
        return render_template("designer/upload.html", result=None)
    try:
        bundle = _uploads()
    except ValidationFailed as exc:
        errors = [m for messages in exc.errors.values() for m in messages]
        return render_template(
            "designer/upload.html", result=None, error=exc.message, errors=errors
        ), 422
    dry = designer.validate_upload(actor(), bundle)
    if request.form.get("action") != "deploy" or not dry.ok:
        return render_template("designer/upload.html", result=dry), 200 if dry.ok else 422
    outcomes, _problems = deployment.deploy(bundle, actor())
    for o in outcomes:
        flash(
            _("«%(key)s»: версия %(version)s развёрнута.", key=o.key, version=o.version)
            if o.created
            else _("«%(key)s»: без изменений (версия %(version)s).", key=o.key, version=o.version),
            "success",
        )
    return redirect(url_for("designer.process", key=outcomes[0].key), 303)


@bp.route("/<key>")
@login_required
def process(key: str) -> Any:
    """Versions of one process, compare and migrate forms, the editor and the drafts."""
    versions = designer.list_versions(actor(), key)
    draft = designer_drafts.open_draft(actor(), key)
    return render_template("designer/process.html", key=key, versions=versions, draft=draft)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.route("/<key>/compare")
@login_required
def compare(key: str) -> Any:
    """Element-by-element differences between two versions."""
    versions = designer.list_versions(actor(), key)
    latest = versions[0]["version"]
    first = _int_arg("from") or max(latest - 1, 1)
    second = _int_arg("to") or latest
    diff = process_compare.compare(actor(), key, first, second)
    return render_template("designer/compare.html", key=key, diff=diff, versions=versions)


@bp.route("/<key>/migrate", methods=["POST"])
@login_required
def migrate(key: str) -> Any:
    """Move running instances to a newer version (dry run first, then for real)."""
    first = request.form.get("from_version", "")
    second = request.form.get("to_version", "")
    if not (first.isdigit() and second.isdigit()):
        flash(_("Выберите версии."), "danger")
        return redirect(url_for("designer.process", key=key), 303)
    dry_run = request.form.get("action") != "migrate"
    result = instance_migration.migrate_instances(
        actor(), key, int(first), int(second), dry_run=dry_run
    )
    return render_template("designer/migrate.html", key=key, result=result)


@bp.route("/<key>/edit")
@login_required
def edit(key: str) -> Any:
    """The bpmn-js modeler on the working copy (draft or latest version)."""
    draft = designer_drafts.open_draft(actor(), key)
    return render_template("designer/modeler.html", draft=draft)


@bp.route("/<key>/draft", methods=["POST"])
@login_required
def save_draft(key: str) -> Any:
    """Save edited diagram files and forms sent by the editor as JSON."""
    body = request.get_json(silent=True) or {}
    files = body.get("files") if isinstance(body.get("files"), dict) else None
    forms = body.get("forms") if isinstance(body.get("forms"), dict) else None
    try:
        draft = designer_drafts.save_draft(actor(), key, files, forms)
    except ValidationFailed as exc:
        return jsonify({"message": exc.message, "errors": exc.errors}), 422
    return jsonify(
        {"saved": True, "updated_at": draft.updated_at.isoformat() if draft.updated_at else None}
    )


@bp.route("/<key>/draft/validate", methods=["POST"])
@login_required
def validate_draft(key: str) -> Any:
    """The deployment report of the working copy, as JSON for the editor."""
    dry = designer_drafts.validate_draft(actor(), key)
    return jsonify({"ok": dry.ok, "report": dry.report, "processes": dry.processes})


@bp.route("/<key>/draft/deploy", methods=["POST"])
@login_required
def deploy_draft(key: str) -> Any:
    """Deploy the working copy as a new version."""
    try:
        outcomes, _problems = designer_drafts.deploy_draft(actor(), key)
    except deployment.DeploymentRejected as exc:
        dry = designer.DryRun(False, [p.as_dict() for p in exc.problems])
        return render_template("designer/upload.html", result=dry, draft_key=key), 422
    for o in outcomes:
        flash(
            _("Версия %(version)s развёрнута.", version=o.version)
            if o.created
            else _("Изменений нет: версия %(version)s.", version=o.version),
            "success",
        )
    return redirect(url_for("designer.process", key=key), 303)


@bp.route("/<key>/draft/discard", methods=["POST"])
@login_required
def discard_draft(key: str) -> Any:
    """Drop the working copy."""
    designer_drafts.discard_draft(actor(), key)
    flash(_("Черновик удалён."), "info")
    return redirect(url_for("designer.process", key=key), 303)


@bp.route("/<key>/forms/<path:form>")
@login_required
def form_editor(key: str, form: str) -> Any:
    """The JSON Schema editor of one form with a live preview."""
    draft = designer_drafts.open_draft(actor(), key)
    text = draft.forms.get(form)
    if text is None:
        text = json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "",
                "type": "object",
                "properties": {},
                "additionalProperties": False,
            },
            ensure_ascii=False,
            indent=2,
        )
    return render_template(
        "designer/form_editor.html", draft=draft, form=form, text=text, preview=_preview(text)
    )


def _preview(text: str) -> dict[str, Any]:
    """The form as the task page renders it, or why it cannot be rendered."""
    from ...services.forms import check_schema

    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"error": _("Не JSON: %(msg)s (строка %(line)s).", msg=exc.msg, line=exc.lineno)}
    reason = check_schema(schema)
    if reason:
        return {"error": reason}
    return {"schema": schema, "form": jsonform.build(schema, {}, None)}


@bp.route("/forms/preview", methods=["POST"])
@login_required
def form_preview() -> Any:
    """The rendered preview of a schema being edited (an HTML fragment)."""
    designer.require_designer(actor())
    text = request.get_data(as_text=True)[: deployment.MAX_FILE_BYTES]
    return render_template("designer/_form_preview.html", preview=_preview(text))


@bp.app_context_processor
def _designer_link() -> dict[str, Any]:
    """Whether the navbar shows «Процессы» (process designers and administrators)."""

    def show() -> bool:
        return bool(held_roles().intersection(designer.DESIGNER_ROLES))

    return {"show_designer_link": show}
