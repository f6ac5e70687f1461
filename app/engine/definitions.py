"""Parse and validate BPMN/DMN bundles into process definitions with the metadata we need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from .scripting import ScriptError, compile_expression, compile_script
from .xml_safety import UnsafeXmlError, parse_xml

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

    def as_dict(self) -> dict[str, Any]:
        """Return the report row as sent to clients."""
        return {
            "file": self.file,
            "element_id": self.element_id,
            "message": self.message,
            "severity": self.severity,
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

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)


def _is_dmn(root: etree._Element) -> bool:
    return etree.QName(root).namespace in DMN_NAMESPACES


def _element_id_from(exc: Exception) -> str | None:
    for attr in ("id", "node_id", "task_id"):
        value = getattr(exc, attr, None)
        if value:
            return str(value)
    return None


def parse_bundle(files: dict[str, bytes]) -> ParseResult:
    """Parse BPMN and DMN files together; every executable process becomes a definition."""
    result = ParseResult()
    parser = SpiffBpmnParser(validator=VALIDATOR)
    bpmn_roots: dict[str, etree._Element] = {}
    for name, content in sorted(files.items()):
        try:
            root = parse_xml(content)
        except UnsafeXmlError as exc:
            result.problems.append(Problem(name, None, str(exc)))
            continue
        except etree.XMLSyntaxError as exc:
            result.problems.append(Problem(name, None, f"XML не является корректным: {exc}"))
            continue
        try:
            if _is_dmn(root):
                parser.add_dmn_xml(root, filename=name)
            elif etree.QName(root).namespace == BPMN_NS:
                parser.add_bpmn_xml(root, filename=name)
                bpmn_roots[name] = root
            else:
                result.problems.append(Problem(name, None, "Файл не является BPMN 2.0 или DMN."))
        except ValidationException as exc:
            line = f" (строка {exc.line_number})" if getattr(exc, "line_number", None) else ""
            result.problems.append(
                Problem(
                    name, _element_id_from(exc), f"Не соответствует схеме BPMN 2.0{line}: {exc}"
                )
            )
        except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
            result.problems.append(Problem(name, _element_id_from(exc), f"Ошибка разбора: {exc}"))
    if not result.ok:
        return result
    for name, root in bpmn_roots.items():
        result.problems.extend(_check_source(name, root))
    process_ids = parser.get_process_ids()
    if not process_ids and bpmn_roots:
        result.problems.append(
            Problem(
                next(iter(bpmn_roots)), None, 'Нет исполняемого процесса (isExecutable="true").'
            )
        )
    for key in process_ids:
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
        except (SpiffWorkflowException, ValidationException, KeyError, ValueError) as exc:
            filename = getattr(exc, "file_name", None) or next(iter(bpmn_roots), "")
            result.problems.append(
                Problem(
                    filename,
                    _element_id_from(exc),
                    f"SpiffWorkflow не может разобрать процесс: {exc}",
                )
            )
            continue
        result.definitions[key] = _describe(key, spec, subprocess_specs)
    return result


def _check_source(name: str, root: etree._Element) -> list[Problem]:
    """Checks on the XML itself: diagram interchange, names, scripts and conditions compile."""
    problems: list[Problem] = []
    if not root.xpath(".//bpmndi:BPMNDiagram", namespaces=NS):
        problems.append(
            Problem(
                name,
                None,
                "Нет графического описания диаграммы (BPMN DI): файл не откроется в редакторе.",
                "warning",
            )
        )
    for task in root.xpath(".//bpmn:userTask", namespaces=NS):
        if not (task.get("name") or "").strip():
            problems.append(
                Problem(name, task.get("id"), "У пользовательской задачи нет названия.")
            )
    for script in root.xpath(".//bpmn:scriptTask/bpmn:script", namespaces=NS):
        element_id = script.getparent().get("id")
        try:
            compile_script(script.text or "")
        except ScriptError as exc:
            problems.append(Problem(name, element_id, f"Сценарий отклонён: {exc}"))
    for cond in root.xpath(".//bpmn:sequenceFlow/bpmn:conditionExpression", namespaces=NS):
        element_id = cond.getparent().get("id")
        try:
            compile_expression(cond.text or "")
        except ScriptError as exc:
            problems.append(Problem(name, element_id, f"Условие отклонено: {exc}"))
    for gateway in root.xpath(".//bpmn:exclusiveGateway | .//bpmn:inclusiveGateway", namespaces=NS):
        gid = gateway.get("id")
        outgoing = root.xpath(f".//bpmn:sequenceFlow[@sourceRef='{gid}']", namespaces=NS)
        if len(outgoing) < 2:
            continue
        conditioned = [
            f for f in outgoing if f.find(f"{{{BPMN_NS}}}conditionExpression") is not None
        ]
        if not gateway.get("default") and len(conditioned) < len(outgoing):
            problems.append(
                Problem(
                    name,
                    gid,
                    "У шлюза нет потока по умолчанию, а не все исходящие потоки имеют условия.",
                )
            )
    return problems


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
