"""Parse and validate BPMN/DMN bundles into process definitions with the metadata we need."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from . import gateways, source_checks
from .xml_safety import UnsafeXmlError, describe_syntax_error, parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DMN_NAMESPACES = {
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
}
NS = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS}


@dataclass(frozen=True)
class Problem:
    """One finding of validation, tied to a file and an element where possible."""

    file: str
    element_id: str | None
    message: str
    severity: str = "error"
    code: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the report row as sent to clients."""
        return {
            "file": self.file,
            "element_id": self.element_id,
            "message": self.message,
            "severity": self.severity,
            "code": self.code,
        }


@dataclass(frozen=True)
class UserTaskInfo:
    """What the product needs to know of a user task without running the workflow."""

    bpmn_id: str
    name: str
    lane: str | None
    documentation: str
    properties: dict[str, str]

    @property
    def form(self) -> str | None:
        """The form file the task names (relative to forms/)."""
        return self.properties.get("formJsonSchemaFilename")


@dataclass
class ProcessDefinition:
    """A parsed, validated process: the spec objects plus metadata, cached per version."""

    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    start_lane: str | None
    start_properties: dict[str, str]
    user_tasks: dict[str, UserTaskInfo]
    lanes: list[str]
    documentation: str = ""

    @property
    def scope_tier(self) -> str | None:
        """The tier of org unit an instance of this process is scoped to."""
        return self.start_properties.get("scopeTier")

    @property
    def start_form(self) -> str | None:
        """The form that declares the start data and the process parameters."""
        return self.start_properties.get("formJsonSchemaFilename")


@dataclass
class ParseResult:
    """Outcome of parsing a bundle: definitions found and every problem met."""

    definitions: dict[str, ProcessDefinition] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)  # file -> well-formed BPMN root

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)


def _is_dmn(root: etree._Element) -> bool:
    return etree.QName(root).namespace in DMN_NAMESPACES


def _element_id_from(exc: Exception, root: etree._Element | None = None) -> str | None:
    for attr in ("id", "node_id", "task_id"):
        value = getattr(exc, attr, None)
        if value:
            return str(value)
    task_spec = getattr(exc, "task_spec", None)
    if task_spec is not None and getattr(task_spec, "bpmn_id", None):
        return str(task_spec.bpmn_id)
    line = getattr(exc, "line_number", None)
    if root is not None and isinstance(line, int):
        return source_checks.element_at_line(root, line)
    return None


_SPIFF_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^No start event found"), "в процессе нет стартового события"),
    (
        re.compile(r"^There is no support implemented for this task type"),
        "этот тип элемента движок не поддерживает",
    ),
    (
        re.compile(r"^A Service Task must have an operator"),
        "у сервисной задачи не указана операция (spiffworkflow:serviceTaskOperator)",
    ),
    (
        re.compile(r"^Non-default exclusive outgoing sequence flow without condition"),
        "исходящий поток шлюза без условия и не по умолчанию",
    ),
    (re.compile(r"^Unknown Time Specification"), "неизвестный вид таймера"),
    (re.compile(r"^Time Specification Error\. ?(.*)"), "ошибка в выражении таймера: {0}"),
    (re.compile(r"^Duplicate process ID: (.*)"), "идентификатор процесса {0} повторяется"),
    (
        re.compile(r'^No DMN Diagram available with id "([^"]*)"'),
        "нет таблицы решений DMN с идентификатором «{0}» (добавьте файл .dmn)",
    ),
    (re.compile(r"^No decisions found"), "в файле DMN нет решений"),
    (
        re.compile(r"^Multiple decision tables are not current supported"),
        "поддерживается только одна таблица решений в файле DMN",
    ),
    (
        re.compile(r"^A SubWorkflow Must contain an End event"),
        "в подпроцессе нет конечного события",
    ),
    (
        re.compile(r"^Exactly one start event is required in a SubWorkflow"),
        "в подпроцессе должно быть ровно одно стартовое событие",
    ),
    (
        re.compile(r'^No "calledElement" attribute for Call Activity'),
        "у вызова процесса нет атрибута calledElement",
    ),
    (
        re.compile(r"^Multiple outgoing flows are not supported for tasks of type"),
        "у задачи такого типа не может быть нескольких исходящих потоков",
    ),
    (
        re.compile(r"^Invalid Script Task\.\s+No Script Provided"),
        "у скриптовой задачи нет сценария",
    ),
    (re.compile(r"^Process (\S+) is not executable"), "процесс {0} не исполняемый"),
    (
        re.compile(r"^Conditional event definition with missing condition"),
        "у условного события нет условия",
    ),
    (re.compile(r"^Cannot resolve (data\w+Association) (.*)"), "не найдена связь данных {1}"),
]


def _spiff_problem(name: str, root: etree._Element | None, exc: Exception) -> Problem:
    """SpiffWorkflow's message, translated and tied to the element it names."""
    raw = str(getattr(exc, "args", [""])[0] if getattr(exc, "args", None) else exc).strip()
    text = raw
    for pattern, template in _SPIFF_MESSAGES:
        match = pattern.match(raw)
        if match:
            text = template.format(*match.groups())
            break
    element_id = _element_id_from(exc, root)
    where = ""
    if element_id and root is not None:
        element = next(
            (e for e in root.iter() if isinstance(e.tag, str) and e.get("id") == element_id), None
        )
        if element is not None:
            where = f" {source_checks.short_tag(element.tag)} {source_checks.label(element)}"
    return Problem(
        name,
        element_id,
        f"SpiffWorkflow не может разобрать{where}: {text}",
        code="spiff_parse",
    )


def _load(name: str, content: bytes, problems: list[Problem]) -> etree._Element | None:
    try:
        return parse_xml(content)
    except UnsafeXmlError as exc:
        problems.append(Problem(name, None, str(exc), code=exc.code))
    except etree.XMLSyntaxError as exc:
        problems.append(Problem(name, None, describe_syntax_error(exc), code="not_well_formed"))
    return None


def parse_bundle(files: dict[str, bytes]) -> ParseResult:
    """Parse BPMN and DMN files together; every executable process becomes a definition.

    Every file is checked on its own (hardened parse, the whole XSD error log, our rules on the
    XML) before SpiffWorkflow sees it, so one broken element does not hide the others.
    """
    result = ParseResult()
    parser = gateways.with_round_aware_joins(SpiffBpmnParser(validator=VALIDATOR))
    roots: dict[str, etree._Element] = {}
    file_of: dict[str, str] = {}
    for name, content in sorted(files.items()):
        root = _load(name, content, result.problems)
        if root is None:
            continue
        if _is_dmn(root):
            try:
                parser.add_dmn_xml(root, filename=name)
            except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
                result.problems.append(_spiff_problem(name, root, exc))
            continue
        if etree.QName(root).namespace != BPMN_NS or etree.QName(root).localname != "definitions":
            result.problems.append(
                Problem(name, None, "Файл не является BPMN 2.0 или DMN.", code="not_bpmn")
            )
            continue
        result.documents[name] = root
        own = [
            Problem(name, f.element_id, f.message, f.severity, f.code)
            for f in source_checks.xsd_findings(root)
        ]
        schema_ok = not own
        own.extend(
            Problem(name, f.element_id, f.message, f.severity, f.code)
            for f in source_checks.check_document(root)
        )
        result.problems.extend(own)
        if not schema_ok:
            continue
        try:
            parser.add_bpmn_xml(root, filename=name)
        except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
            result.problems.append(_spiff_problem(name, root, exc))
            continue
        roots[name] = root
        for process in source_checks.Document(root).executable:
            file_of[process.get("id")] = name
    for key in parser.get_process_ids():
        name = file_of.get(key, next(iter(roots), ""))
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
        except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
            filename = getattr(exc, "file_name", None) or name
            problem = _spiff_problem(filename, roots.get(filename), exc)
            if not _covered(problem, result.problems, roots.get(filename)):
                result.problems.append(problem)
            continue
        result.definitions[key] = _describe(key, spec, subprocess_specs)
    result.problems = _unique(result.problems)
    return result


def _covered(problem: Problem, found: list[Problem], root: etree._Element | None) -> bool:
    """True when our own rules already reported an error on the element Spiff names."""
    flagged = {p.element_id for p in found if p.severity == "error" and p.file == problem.file}
    if problem.element_id in flagged:
        return True
    if root is not None and problem.element_id:
        doc = source_checks.Document(root)
        element = doc.by_id.get(problem.element_id)
        if element is not None and element.get("sourceRef") in flagged:
            return True
    return False


MAX_PROBLEMS_PER_KIND = 50


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str | None, str]] = set()
    result = []
    for p in problems:
        key = (p.file, p.element_id, p.message)
        if key not in seen:
            seen.add(key)
            result.append(p)
    return limit_problems(result)


def limit_problems(problems: list[Problem], per_kind: int = MAX_PROBLEMS_PER_KIND) -> list[Problem]:
    """At most per_kind rows of one kind (file, code, severity), then one row with the rest."""
    counts: dict[tuple[str, str, str], int] = {}
    result = []
    for p in problems:
        kind = (p.file, p.code, p.severity)
        counts[kind] = counts.get(kind, 0) + 1
        if not p.code or counts[kind] <= per_kind:
            result.append(p)
    for (file, code, severity), number in counts.items():
        if code and number > per_kind:
            result.append(
                Problem(
                    file,
                    None,
                    f"… и ещё {number - per_kind} замечаний того же вида ({code}).",
                    severity,
                    code,
                )
            )
    return result


def _describe(key: str, spec: Any, subprocess_specs: dict[str, Any]) -> ProcessDefinition:
    user_tasks: dict[str, UserTaskInfo] = {}
    lanes: set[str] = set()
    start_lane = None
    start_props: dict[str, str] = {}
    for task_spec in spec.task_specs.values():
        lane = getattr(task_spec, "lane", None)
        if lane:
            lanes.add(lane)
        props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
        if isinstance(task_spec, StartEvent) and task_spec.bpmn_id:
            start_lane = lane
            start_props = dict(props)
        if getattr(task_spec, "manual", False) and task_spec.bpmn_id:
            user_tasks[task_spec.bpmn_id] = UserTaskInfo(
                bpmn_id=task_spec.bpmn_id,
                name=task_spec.bpmn_name or task_spec.bpmn_id,
                lane=lane,
                documentation=(task_spec.documentation or "").strip(),
                properties=dict(props),
            )
    return ProcessDefinition(
        key=key,
        name=spec.description or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        start_lane=start_lane,
        start_properties=start_props,
        user_tasks=user_tasks,
        lanes=sorted(lanes),
        documentation=(getattr(spec, "documentation", None) or ""),
    )
