"""Checks on the BPMN XML itself, independent of SpiffWorkflow's parser.

SpiffWorkflow stops at the first exception, so these rules walk the document on their own and
report every finding: XSD errors (all of them, each tied to the element on its line), the
executable process, diagram interchange, names, scripts, conditions, timers and gateways.
Product rules that need the role catalogue or the forms live in services/validation_rules.py.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from .scripting import ScriptError, compile_expression, compile_script

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "spiffworkflow": SPIFF_NS}

FLOW_NODE_TAGS = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
_PYTHON_FORMATS = {"", "python", "text/x-python", "py", "python3"}
_ISO_DURATION = re.compile(r"^R?\d*/?P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
_PREFIXES = {BPMN_NS: "bpmn", BPMNDI_NS: "bpmndi", DC_NS: "dc", DI_NS: "di", SPIFF_NS: "spiff"}


@dataclass(frozen=True)
class Finding:
    """One rule finding on a document (the file name is added by the caller)."""

    element_id: str | None
    message: str
    severity: str = "error"
    code: str = ""


def local(element: Any) -> str:
    """The local name of an element's tag ('' for comments and processing instructions)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def bpmn(tag: str) -> str:
    """The Clark name of a BPMN model tag."""
    return f"{{{BPMN_NS}}}{tag}"


def short_tag(tag: str) -> str:
    """A tag with its namespace replaced by the usual prefix."""
    for uri, prefix in _PREFIXES.items():
        tag = tag.replace(f"{{{uri}}}", f"{prefix}:")
    return tag


def label(element: Any) -> str:
    """How an element is named in messages: «name» (id) or just the id."""
    name = (element.get("name") or "").strip()
    element_id = element.get("id") or local(element)
    return f"«{name}» ({element_id})" if name else element_id


def is_flow_node(element: Any) -> bool:
    """True for BPMN tasks, events and gateways."""
    return etree.QName(element).namespace == BPMN_NS and local(element) in FLOW_NODE_TAGS


def element_at_line(root: Any, line: int | None) -> str | None:
    """The id of the innermost element that starts on a line (or its nearest ancestor's)."""
    return _LineIndex(root).element_at(line)


class _LineIndex:
    """Element ids by the line their element starts on, built once per document."""

    def __init__(self, root: Any) -> None:
        self.by_line: dict[int, str | None] = {}
        for element in root.iter():
            if not isinstance(element.tag, str) or not element.sourceline:
                continue
            found = element
            while found is not None and not found.get("id"):
                found = found.getparent()
            self.by_line[element.sourceline] = found.get("id") if found is not None else None

    def element_at(self, line: int | None) -> str | None:
        return self.by_line.get(line) if line else None


class Document:
    """Indexes over one BPMN document so that every rule is linear in its size."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.processes = [p for p in root if isinstance(p.tag, str) and p.tag == bpmn("process")]
        self.by_id: dict[str, Any] = {}
        for element in root.iter():
            if isinstance(element.tag, str) and element.get("id"):
                self.by_id.setdefault(element.get("id"), element)
        self.flows = list(root.iter(bpmn("sequenceFlow")))
        self.outgoing: dict[str, list[Any]] = defaultdict(list)
        self.incoming: dict[str, list[Any]] = defaultdict(list)
        for flow in self.flows:
            self.outgoing[flow.get("sourceRef") or ""].append(flow)
            self.incoming[flow.get("targetRef") or ""].append(flow)
        self.flow_nodes = [
            e
            for p in self.processes
            for e in p.iter()
            if isinstance(e.tag, str) and is_flow_node(e)
        ]
        self.lane_of: dict[str, Any] = {}
        for ref in root.iter(bpmn("flowNodeRef")):
            self.lane_of.setdefault((ref.text or "").strip(), ref.getparent())

    @property
    def executable(self) -> list[Any]:
        """The processes marked isExecutable="true"."""
        return [p for p in self.processes if p.get("isExecutable") == "true"]

    def nodes(self, *tags: str) -> Iterator[Any]:
        """Flow nodes with one of the given local names."""
        return (n for n in self.flow_nodes if local(n) in tags)


def xsd_findings(root: Any) -> list[Finding]:
    """Every BPMN 2.0 XSD error of the document, tied to the element on the error's line."""
    VALIDATOR.preprocess(root)
    schema = VALIDATOR.validator
    if schema.validate(root):
        return []
    lines = _LineIndex(root)
    findings: list[Finding] = []
    seen: set[tuple[int, str]] = set()
    for error in schema.error_log:
        message = _translate_xsd(error.message)
        key = (error.line, message)
        if key in seen:
            continue
        seen.add(key)
        findings.append(
            Finding(
                lines.element_at(error.line),
                f"Не соответствует схеме BPMN 2.0 (строка {error.line}): {message}",
                code="xsd",
            )
        )
    return findings


_XSD_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^Element '([^']+)': This element is not expected\..*$"),
        "элемент {0} здесь не допускается.",
    ),
    (
        re.compile(
            r"^Element '([^']+)', attribute '([^']+)': The attribute '[^']+' is not allowed"
        ),
        "атрибут {1} не допускается у элемента {0}.",
    ),
    (
        re.compile(r"^Element '([^']+)': The attribute '([^']+)' is required but missing"),
        "у элемента {0} нет обязательного атрибута {1}.",
    ),
    (
        re.compile(
            r"^Element '([^']+)', attribute '([^']+)': '([^']*)' is not a valid value of the "
            r"atomic type '([^']+)'"
        ),
        "значение «{2}» атрибута {1} элемента {0} не является допустимым ({3}).",
    ),
    (
        re.compile(r"^Element '([^']+)': Missing child element\(s\)\..*$"),
        "у элемента {0} не хватает обязательных вложенных элементов.",
    ),
    (
        re.compile(r"^Element '([^']+)': '([^']*)' is not a valid value of the atomic type"),
        "значение «{1}» элемента {0} не допускается схемой.",
    ),
    (
        re.compile(r"^Element '([^']+)': No matching global declaration available"),
        "корневой элемент {0} не является bpmn:definitions.",
    ),
]


def _translate_xsd(message: str) -> str:
    message = short_tag(message.strip())
    for pattern, template in _XSD_PATTERNS:
        match = pattern.match(message)
        if match:
            return template.format(*match.groups())
    return message


def check_document(root: Any) -> list[Finding]:
    """Every rule of this module over one BPMN document."""
    doc = Document(root)
    findings: list[Finding] = []
    findings.extend(_executable(doc))
    findings.extend(_diagram_interchange(doc))
    findings.extend(_names(doc))
    findings.extend(_scripts(doc))
    findings.extend(_conditions(doc))
    findings.extend(_timers(doc))
    findings.extend(_gateways(doc))
    findings.extend(_dangling_flows(doc))
    findings.extend(_unconnected(doc))
    return findings


def _executable(doc: Document) -> list[Finding]:
    if doc.executable:
        return []
    first = doc.processes[0].get("id") if doc.processes else None
    return [
        Finding(
            first,
            'Нет исполняемого процесса (isExecutable="true"): движку нечего запускать.',
            code="no_executable_process",
        )
    ]


def _diagram_interchange(doc: Document) -> list[Finding]:
    diagrams = list(doc.root.iter(f"{{{BPMNDI_NS}}}BPMNDiagram"))
    if not diagrams:
        return [
            Finding(
                None,
                "Нет графического описания диаграммы (BPMN DI): файл не откроется в редакторе "
                "в исходном виде.",
                "warning",
                "no_diagram",
            )
        ]
    drawn = {
        e.get("bpmnElement")
        for d in diagrams
        for e in d.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge")
    }
    findings = []
    for node in doc.flow_nodes:
        if node.get("id") not in drawn:
            findings.append(
                Finding(
                    node.get("id"),
                    f"Элемент {label(node)} не нарисован на диаграмме (нет BPMNShape).",
                    "warning",
                    "no_shape",
                )
            )
    for flow in doc.flows:
        if flow.get("id") not in drawn:
            findings.append(
                Finding(
                    flow.get("id"),
                    f"Поток {flow.get('id')} не нарисован на диаграмме (нет BPMNEdge).",
                    "warning",
                    "no_edge",
                )
            )
    return findings


def _names(doc: Document) -> list[Finding]:
    return [
        Finding(task.get("id"), "У пользовательской задачи нет названия.", code="user_task_name")
        for task in doc.nodes("userTask", "manualTask")
        if not (task.get("name") or "").strip()
    ]


def _compile(source: str, *, script: bool) -> str | None:
    try:
        if script:
            compile_script(source)
        else:
            compile_expression(source)
    except ScriptError as exc:
        return str(exc)
    return None


def _juel_hint(source: str) -> str:
    if "${" in source or "#{" in source:
        return " Выражения Camunda (JUEL, ${…}) не поддерживаются: пишите на Python."
    return ""


def _scripts(doc: Document) -> list[Finding]:
    findings = []
    for task in doc.nodes("scriptTask"):
        script_format = (task.get("scriptFormat") or "").strip().lower()
        if script_format not in _PYTHON_FORMATS:
            findings.append(
                Finding(
                    task.get("id"),
                    f"Язык сценария «{task.get('scriptFormat')}» не поддерживается: "
                    "сценарии пишутся на Python в ограниченной среде.",
                    code="script_language",
                )
            )
            continue
        script = task.find(bpmn("script"))
        if script is None or not (script.text or "").strip():
            findings.append(
                Finding(task.get("id"), "У скриптовой задачи нет текста сценария.", code="script")
            )
            continue
        reason = _compile(script.text or "", script=True)
        if reason:
            findings.append(
                Finding(task.get("id"), f"Сценарий отклонён: {reason}", code="script_refused")
            )
    for tag in ("preScript", "postScript"):
        for element in doc.root.iter(f"{{{SPIFF_NS}}}{tag}"):
            owner = _owner(element)
            reason = _compile(element.text or "", script=True)
            if reason:
                findings.append(
                    Finding(owner, f"Сценарий {tag} отклонён: {reason}", code="script_refused")
                )
    for param in doc.root.iter(f"{{{SPIFF_NS}}}parameter"):
        value = param.get("value")
        if value is None:
            continue
        reason = _compile(value, script=False)
        if reason:
            findings.append(
                Finding(
                    _owner(param),
                    f"Параметр операции «{param.get('id')}» не компилируется: {reason}",
                    code="expression_refused",
                )
            )
    return findings


def _owner(element: Any) -> str | None:
    """The id of the flow node an extension element belongs to."""
    node = element.getparent()
    while node is not None and not (isinstance(node.tag, str) and is_flow_node(node)):
        node = node.getparent()
    return node.get("id") if node is not None else None


def _conditions(doc: Document) -> list[Finding]:
    findings = []
    for flow in doc.flows:
        cond = flow.find(bpmn("conditionExpression"))
        if cond is None:
            continue
        source = (cond.text or "").strip()
        if not source:
            findings.append(
                Finding(flow.get("id"), "Пустое условие перехода.", code="condition_empty")
            )
            continue
        language = (cond.get("language") or "").strip().lower()
        if language and language not in _PYTHON_FORMATS:
            findings.append(
                Finding(
                    flow.get("id"),
                    f"Язык условия «{cond.get('language')}» не поддерживается: "
                    "условия пишутся на Python.",
                    code="condition_language",
                )
            )
            continue
        reason = _compile(source, script=False)
        if reason:
            findings.append(
                Finding(
                    flow.get("id"),
                    f"Условие отклонено: {reason}.{_juel_hint(source)}".replace("..", "."),
                    code="condition_refused",
                )
            )
    return findings


def _timers(doc: Document) -> list[Finding]:
    findings = []
    for timer in doc.root.iter(bpmn("timerEventDefinition")):
        owner = timer.getparent().get("id")
        for child in timer:
            if not isinstance(child.tag, str):
                continue
            source = (child.text or "").strip()
            if not source:
                findings.append(
                    Finding(owner, "Пустое выражение таймера.", code="timer_expression")
                )
                continue
            if _ISO_DURATION.match(source) or _ISO_DATETIME.match(source):
                findings.append(
                    Finding(
                        owner,
                        f"Выражение таймера «{source}» вычисляется как Python: литерал "
                        f'нужно взять в кавычки ("{source}") или указать имя переменной.',
                        code="timer_unquoted",
                    )
                )
                continue
            reason = _compile(source, script=False)
            if reason:
                findings.append(
                    Finding(
                        owner,
                        f"Выражение таймера отклонено: {reason}{_juel_hint(source)}",
                        code="timer_expression",
                    )
                )
    return findings


def _gateways(doc: Document) -> list[Finding]:
    findings = []
    for gateway in doc.nodes("exclusiveGateway", "inclusiveGateway"):
        gid = gateway.get("id") or ""
        outgoing = doc.outgoing.get(gid, [])
        default = gateway.get("default")
        out_ids = {f.get("id") for f in outgoing}
        if default and default not in out_ids:
            findings.append(
                Finding(
                    gid,
                    f"Поток по умолчанию «{default}» не является исходящим потоком шлюза.",
                    code="gateway_default_unknown",
                )
            )
            default = None
        if len(outgoing) < 2:
            continue
        missing = [
            f.get("id")
            for f in outgoing
            if f.get("id") != default and f.find(bpmn("conditionExpression")) is None
        ]
        if missing:
            findings.append(
                Finding(
                    gid,
                    "У шлюза нет потока по умолчанию, а не все исходящие потоки имеют условия "
                    f"(без условия: {', '.join(sorted(m or '?' for m in missing))}).",
                    code="gateway_conditions",
                )
            )
        elif not default and local(gateway) == "exclusiveGateway":
            findings.append(
                Finding(
                    gid,
                    "У шлюза нет потока по умолчанию: если ни одно условие не выполнится, "
                    "экземпляр остановится с ошибкой.",
                    "warning",
                    "gateway_no_default",
                )
            )
    return findings


def _dangling_flows(doc: Document) -> list[Finding]:
    findings = []
    for flow in doc.flows:
        for attr in ("sourceRef", "targetRef"):
            ref = flow.get(attr)
            target = doc.by_id.get(ref or "")
            if target is None or not is_flow_node(target):
                findings.append(
                    Finding(
                        flow.get("id"),
                        f"Поток ссылается на несуществующий элемент ({attr}=«{ref or ''}»).",
                        code="flow_reference",
                    )
                )
    return findings


def _unconnected(doc: Document) -> list[Finding]:
    findings = []
    for node in doc.flow_nodes:
        kind = local(node)
        node_id = node.get("id") or ""
        parent = node.getparent()
        in_process = parent is not None and parent.tag == bpmn("process")
        if not in_process:
            continue
        if kind not in ("startEvent", "boundaryEvent") and not doc.incoming.get(node_id):
            findings.append(
                Finding(
                    node_id,
                    f"В элемент {label(node)} не ведёт ни один поток: он никогда не выполнится.",
                    "warning",
                    "unreachable",
                )
            )
        if kind != "endEvent" and not doc.outgoing.get(node_id):
            findings.append(
                Finding(
                    node_id,
                    f"Из элемента {label(node)} не выходит ни один поток: ветвь обрывается.",
                    "warning",
                    "dead_end",
                )
            )
    return findings
