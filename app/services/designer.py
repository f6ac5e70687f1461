"""Designer use cases: the workspace, versions with their instances, dry-run validation, export.

Comparing versions is in process_compare.py, migrating instances in instance_migration.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import undefer_group

from ..extensions import db
from ..models import ProcessInstance, ProcessVersion, User
from . import deployment
from .errors import NotAllowed, NotFound, ValidationFailed

DESIGNER_ROLES = frozenset({"process_designer", "admin"})
ACTIVE_STATUSES = ("running", "waiting")
_STATUSES = ("running", "waiting", "completed", "error", "terminated")


def may_design(actor: User | None) -> bool:
    """True for process designers and administrators (at any unit)."""
    return actor is not None and any(g.role in DESIGNER_ROLES for g in actor.grants)


def require_designer(actor: User | None) -> None:
    """Refuse anyone who is not a process designer or an administrator."""
    if not may_design(actor):
        raise NotAllowed("Доступно только разработчику процессов или администратору.")


def _instance_counts(key: str | None = None) -> dict[int, dict[str, int]]:
    query = select(
        ProcessInstance.process_version_id, ProcessInstance.status, func.count(ProcessInstance.id)
    ).group_by(ProcessInstance.process_version_id, ProcessInstance.status)
    if key is not None:
        query = query.where(ProcessInstance.process_key == key)
    counts: dict[int, dict[str, int]] = {}
    for version_id, status, number in db.session.execute(query):
        counts.setdefault(version_id, dict.fromkeys(_STATUSES, 0))[status] = number
    return counts


def _counts_view(counts: dict[str, int] | None) -> dict[str, int]:
    result = dict.fromkeys(_STATUSES, 0)
    result.update(counts or {})
    result["active"] = sum(result[s] for s in ACTIVE_STATUSES)
    result["total"] = sum(result[s] for s in _STATUSES)
    return result


def _deployer(version: ProcessVersion) -> dict[str, Any]:
    user = version.deployed_by
    return {
        "deployed_by": user.username if user else None,
        "deployed_by_name": (user.full_name or user.username) if user else None,
    }


def version_view(
    version: ProcessVersion, counts: dict[str, int] | None, latest: int
) -> dict[str, Any]:
    """One version as the workspace shows it."""
    return {
        "key": version.key,
        "version": version.version,
        "name": version.name,
        "sha256": version.sha256,
        "deployed_at": version.deployed_at,
        **_deployer(version),
        "instances": _counts_view(counts),
        "files": sorted(version.files),
        "forms": sorted(version.forms),
        "latest": version.version == latest,
    }


def _versions_of(key: str) -> list[ProcessVersion]:
    return list(
        db.session.execute(
            select(ProcessVersion)
            .where(ProcessVersion.key == key)
            .order_by(ProcessVersion.version.desc())
            .options(undefer_group("content"))  # the view lists each version's files
        ).scalars()
    )


def list_versions(actor: User | None, key: str) -> list[dict[str, Any]]:
    """Every version of a process, newest first, with who deployed it and its instances."""
    require_designer(actor)
    versions = _versions_of(key)
    if not versions:
        raise NotFound(f"Процесс «{key}» не найден.")
    counts = _instance_counts(key)
    latest = versions[0].version
    return [version_view(v, counts.get(v.id), latest) for v in versions]


def workspace(actor: User | None) -> list[dict[str, Any]]:
    """Every deployed process: latest version, number of versions, instances per version."""
    require_designer(actor)
    counts = _instance_counts()
    per_version: dict[str, list[tuple[int, dict[str, int]]]] = {}
    for version_id, key, number in db.session.execute(
        select(ProcessVersion.id, ProcessVersion.key, ProcessVersion.version)
    ):
        per_version.setdefault(key, []).append((number, _counts_view(counts.get(version_id))))
    result = []
    for latest in deployment.latest_versions(with_content=True):
        view = version_view(latest, counts.get(latest.id), latest.version)
        view["versions"] = len(per_version.get(latest.key, [])) or 1
        view["instances_by_version"] = [
            {"version": n, **c} for n, c in sorted(per_version.get(latest.key, []), reverse=True)
        ]
        view["active_total"] = sum(c["active"] for _, c in per_version.get(latest.key, []))
        result.append(view)
    return result


def get_version(actor: User | None, key: str, number: int) -> ProcessVersion:
    """One stored version (files and forms) of a process."""
    require_designer(actor)
    version = db.session.execute(
        select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == number)
    ).scalar_one_or_none()
    if version is None:
        raise NotFound(f"Версия {number} процесса «{key}» не найдена.")
    return version


def main_file(version: ProcessVersion) -> str:
    """The name of the BPMN file that defines the version's process."""
    for name, text in sorted(version.files.items()):
        if not name.endswith(".dmn") and f'id="{version.key}"' in text:
            return name
    return next((n for n in sorted(version.files) if not n.endswith(".dmn")), "")


@dataclass
class DryRun:
    """What a deployment of an upload would do, with the full report; nothing is written."""

    ok: bool
    report: list[dict[str, Any]]
    processes: list[dict[str, Any]] = field(default_factory=list)


def validate_upload(actor: User | None, bundle: deployment.Bundle) -> DryRun:
    """Validate files as a deployment would and say what would happen, writing nothing."""
    require_designer(actor)
    candidates, problems = deployment.validate_bundle(bundle)
    ok = not any(p.severity == "error" for p in problems)
    processes = []
    for cand in candidates:
        latest = deployment.latest_version(cand.definition.key)
        sha = deployment.version_hash(cand.files, cand.forms)
        if latest is None:
            outcome, number = "new_process", 1
        elif latest.sha256 == sha:
            outcome, number = "unchanged", latest.version
        else:
            outcome, number = "new_version", latest.version + 1
        processes.append(
            {
                "key": cand.definition.key,
                "name": cand.definition.name,
                "outcome": outcome,
                "version": number,
                "current_version": latest.version if latest else None,
            }
        )
    return DryRun(ok, [p.as_dict() for p in problems], processes)


def bundle_from_uploads(uploads: list[tuple[str, bytes]]) -> deployment.Bundle:
    """Sort uploaded (name, content) pairs into diagrams and forms; refuse other files."""
    if not uploads:
        raise ValidationFailed("Не переданы файлы.", {"files": ["Добавьте .bpmn, .dmn, .json."]})
    bundle = deployment.Bundle()
    refused = []
    for raw_name, content in uploads:
        name = raw_name.replace("\\", "/").rsplit("/", 1)[-1]
        if name.endswith((".bpmn", ".dmn", ".xml")):
            bundle.sources[name] = content
        elif name.endswith(".json"):
            bundle.forms[_form_path(raw_name)] = content
        else:
            refused.append(f"{name or '(без имени)'}: допустимы .bpmn, .dmn, .json.")
    if refused:
        raise ValidationFailed("Неподдерживаемый тип файла.", {"files": refused})
    return bundle


def _form_path(raw_name: str) -> str:
    """A form's path relative to forms/ when the upload kept it, else its file name."""
    parts = [p for p in raw_name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if "forms" in parts[:-1]:
        return "/".join(parts[len(parts) - parts[::-1].index("forms") :])
    return "/".join(parts[-2:]) if parts else raw_name


@dataclass
class ExportResult:
    """Files written by an export and conflicts met (same file name, different content)."""

    written: list[Path] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def export_latest(processes_dir: Path, forms_dir: Path) -> ExportResult:
    """Write the latest deployed version of every process: diagrams and forms/<path>.json.

    The output deploys back as a no-op (`flask processes deploy DIR/processes`), so the
    deployed state can be committed to git as the source of truth.
    """
    result = ExportResult()
    sources: dict[str, tuple[str, str]] = {}
    forms: dict[str, tuple[str, Any]] = {}
    for version in sorted(
        deployment.latest_versions(with_content=True), key=lambda v: v.deployed_at
    ):
        for name, text in version.files.items():
            _merge(sources, name, (version.key, text), result.conflicts)
        for path, schema in version.forms.items():
            _merge(forms, path, (version.key, schema), result.conflicts)
    for name, (_key, text) in sorted(sources.items()):
        result.written.append(_write(processes_dir, name, text))
    for path, (_key, schema) in sorted(forms.items()):
        body = json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
        result.written.append(_write(forms_dir, path, body))
    return result


def _merge(
    into: dict[str, tuple[str, Any]], name: str, item: tuple[str, Any], conflicts: list[str]
) -> None:
    previous = into.get(name)
    if previous is not None and previous[1] != item[1]:
        conflicts.append(
            f"{name}: в процессах «{previous[0]}» и «{item[0]}» разное содержимое; "
            f"записана версия из «{item[0]}» (развёрнута позже)."
        )
    into[name] = item


def _write(directory: Path, relative: str, text: str) -> Path:
    path = (directory / relative).resolve()
    if directory.resolve() not in path.parents:
        raise ValidationFailed(f"Недопустимый путь файла: {relative}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def bundle_from_paths(paths: list[Path], forms_dir: Path | None) -> deployment.Bundle:
    """Diagrams and forms named on the command line (files or directories), plus forms_dir.

    A directory contributes its .bpmn/.dmn files and the forms of a sibling forms/ directory,
    as `flask processes deploy DIR` reads them; .json files given explicitly win.
    """
    bundle = deployment.Bundle()
    form_dirs = [forms_dir] if forms_dir is not None else []
    explicit: dict[str, bytes] = {}
    for path in paths:
        if path.is_dir():
            found = deployment.bundle_from_directory(path, path.parent / "forms")
            bundle.sources.update(found.sources)
            form_dirs.append(path.parent / "forms")
        elif path.suffix in (".bpmn", ".dmn", ".xml"):
            bundle.sources[path.name] = path.read_bytes()
        elif path.suffix == ".json":
            explicit[_form_path(path.as_posix())] = path.read_bytes()
    for directory in form_dirs:
        if directory.is_dir():
            for form in sorted(directory.rglob("*.json")):
                bundle.forms.setdefault(form.relative_to(directory).as_posix(), form.read_bytes())
    bundle.forms.update(explicit)
    return bundle
