"""Validating and deploying process versions from files (CLI, API, designer)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import undefer_group

from .. import engine
from ..engine.definitions import limit_problems
from ..engine.source_checks import Document
from ..extensions import db
from ..models import ProcessVersion, User
from . import audit, validation_rules
from .errors import NotAllowed, ValidationFailed
from .uow import transaction

MAX_FILE_BYTES = 2 * 1024 * 1024
_DECISION_REF = re.compile(r"calledDecisionId>\s*([^<\s]+)\s*<")
_DECISION_ID = re.compile(r"<(?:\w+:)?decision\b[^>]*\bid=\"([^\"]+)\"")


@dataclass
class DeployOutcome:
    """The result of deploying one process: its version and whether it is new."""

    key: str
    version: int
    created: bool
    version_id: int


@dataclass
class Bundle:
    """Files submitted together: BPMN/DMN sources and JSON forms by relative path."""

    sources: dict[str, bytes] = field(default_factory=dict)
    forms: dict[str, bytes] = field(default_factory=dict)


def bundle_from_directory(processes_dir: Path, forms_dir: Path) -> Bundle:
    """Read processes/*.bpmn|*.dmn and forms/**/*.json."""
    bundle = Bundle()
    for path in sorted(processes_dir.glob("*")):
        if path.suffix in (".bpmn", ".dmn"):
            bundle.sources[path.name] = path.read_bytes()
    if forms_dir.exists():
        for path in sorted(forms_dir.rglob("*.json")):
            bundle.forms[path.relative_to(forms_dir).as_posix()] = path.read_bytes()
    return bundle


def _latest(key: str) -> ProcessVersion | None:
    return db.session.execute(
        select(ProcessVersion)
        .where(ProcessVersion.key == key)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def _version_hash(files: dict[str, str], forms: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"file:{name}\n".encode())
        digest.update(files[name].encode("utf-8"))
    for name in sorted(forms):
        digest.update(f"form:{name}\n".encode())
        digest.update(json.dumps(forms[name], sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


version_hash = _version_hash  # the designer's dry run tells whether an upload is a new version


@dataclass
class _Candidate:
    definition: engine.ProcessDefinition
    files: dict[str, str]
    forms: dict[str, Any]


def validate_bundle(bundle: Bundle) -> tuple[list[_Candidate], list[engine.Problem]]:
    """Everything the deploy checks, without writing: candidates per process and the report."""
    problems: list[engine.Problem] = []
    forms = validation_rules.parse_forms(bundle.forms)
    dmn_files = {n: c for n, c in bundle.sources.items() if n.endswith(".dmn")}
    decision_files: dict[str, str] = {}
    for name, content in dmn_files.items():
        for decision in _DECISION_ID.findall(content.decode("utf-8", "replace")):
            decision_files[decision] = name
    candidates: list[_Candidate] = []
    bpmn_files = {n: c for n, c in bundle.sources.items() if not n.endswith(".dmn")}
    if not bpmn_files:
        problems.append(engine.Problem("", None, "Нет ни одного файла .bpmn.", code="no_bpmn"))
    for name, content in bpmn_files.items():
        if len(content) > MAX_FILE_BYTES:
            problems.append(
                engine.Problem(
                    name,
                    None,
                    f"Файл больше допустимого размера ({MAX_FILE_BYTES // 1024} КБ).",
                    code="too_large",
                )
            )
            continue
        text = content.decode("utf-8", "replace")
        needed = {decision_files[d] for d in _DECISION_REF.findall(text) if d in decision_files}
        parsed = engine.parse_bundle({name: content, **{d: dmn_files[d] for d in needed}})
        problems.extend(parsed.problems)
        root = parsed.documents.get(name)
        if root is None:
            continue
        for process_id in _executable_ids(root):
            latest = _latest(process_id)
            forms.deployed[process_id] = latest.forms if latest else {}
        report = validation_rules.check_document(name, root, forms)
        problems.extend(report.problems)
        for definition in parsed.definitions.values():
            files = {name: text, **{d: dmn_files[d].decode("utf-8") for d in needed}}
            used = report.forms_by_key.get(definition.key, {})
            candidates.append(_Candidate(definition, files, used))
    for form_name, reason in forms.broken.items():
        if form_name not in forms.referenced:
            problems.append(engine.Problem(form_name, None, reason, code="form_file"))
    return candidates, limit_problems(problems)


def _executable_ids(root: Any) -> list[str]:
    return [p.get("id") for p in Document(root).executable if p.get("id")]


def deploy(bundle: Bundle, actor: User | None) -> tuple[list[DeployOutcome], list[engine.Problem]]:
    """Validate and deploy; identical content is a no-op, changed content a new version."""
    if actor is not None and not _may_deploy(actor):
        raise NotAllowed("Развёртывать процессы может только разработчик процессов.")
    candidates, problems = validate_bundle(bundle)
    if any(p.severity == "error" for p in problems):
        raise DeploymentRejected(problems)
    outcomes: list[DeployOutcome] = []
    with transaction():
        for cand in candidates:
            outcomes.append(_store(cand, actor))
    return outcomes, problems


def _store(cand: _Candidate, actor: User | None) -> DeployOutcome:
    key = cand.definition.key
    sha = _version_hash(cand.files, cand.forms)
    latest = _latest(key)
    if latest is not None and latest.sha256 == sha:
        return DeployOutcome(key, latest.version, False, latest.id)
    number = (
        db.session.execute(
            select(func.max(ProcessVersion.version)).where(ProcessVersion.key == key)
        ).scalar()
        or 0
    ) + 1
    version = ProcessVersion(
        key=key,
        version=number,
        name=cand.definition.name,
        description=cand.definition.documentation,
        scope_tier=cand.definition.scope_tier,
        start_role=cand.definition.start_lane,
        files=cand.files,
        forms=cand.forms,
        sha256=sha,
        deployed_by_id=actor.id if actor else None,
    )
    db.session.add(version)
    db.session.flush()
    audit.record(
        "process_deployed",
        actor,
        payload={"key": key, "version": number, "sha256": sha, "files": sorted(cand.files)},
    )
    return DeployOutcome(key, number, True, version.id)


def _may_deploy(actor: User) -> bool:
    return any(g.role in ("process_designer", "admin") for g in actor.grants)


class DeploymentRejected(ValidationFailed):
    """Validation found errors; nothing was deployed. Carries the full report."""

    def __init__(self, problems: list[engine.Problem]) -> None:
        errors: dict[str, list[str]] = {}
        for p in problems:
            if p.severity == "error":
                errors.setdefault(p.file or "_bundle", []).append(
                    f"{p.element_id}: {p.message}" if p.element_id else p.message
                )
        super().__init__("Процесс не прошёл проверку и не развёрнут.", errors)
        self.problems = problems


def definition_for(version: ProcessVersion) -> engine.ProcessDefinition:
    """The parsed definition of a stored version (cached per version id)."""

    def load() -> engine.ProcessDefinition:
        parsed = engine.parse_bundle({n: t.encode("utf-8") for n, t in version.files.items()})
        if version.key not in parsed.definitions:
            raise engine.EngineError(f"Версия {version.key} v{version.version} не разбирается.")
        return parsed.definitions[version.key]

    return engine.definitions.get(version.id, load)


def _stored(version_id: int) -> ProcessVersion:
    version = db.session.get(ProcessVersion, version_id)
    if version is None:
        raise engine.EngineError(f"Версия процесса {version_id} не найдена.")
    return version


def definition_by_id(version_id: int) -> engine.ProcessDefinition:
    """The parsed definition of a version by id: its row is read only on a cache miss."""
    return engine.definitions.get(version_id, lambda: definition_for(_stored(version_id)))


def form_schema(version_id: int, name: str | None) -> dict[str, Any] | None:
    """A form of a deployed version (versions never change, so they are cached by id).

    The returned schema is shared: callers read it and must not change it.
    """
    if not name:
        return None
    forms: dict[str, Any] = engine.definitions.get(
        ("forms", version_id), lambda: dict(_stored(version_id).forms or {})
    )
    schema = forms.get(name)
    return schema if isinstance(schema, dict) else None


def latest_versions(with_content: bool = False) -> list[ProcessVersion]:
    """The latest version of every deployed process (with_content: files and forms too)."""
    sub = (
        select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
        .group_by(ProcessVersion.key)
        .subquery()
    )
    return list(
        db.session.execute(
            select(ProcessVersion)
            .join(sub, (ProcessVersion.key == sub.c.key) & (ProcessVersion.version == sub.c.v))
            .order_by(ProcessVersion.key)
            .options(*([undefer_group("content")] if with_content else []))
        ).scalars()
    )


def latest_version(key: str) -> ProcessVersion | None:
    """The latest version of one process, or None."""
    return _latest(key)
