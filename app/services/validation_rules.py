"""Product rules on an uploaded BPMN document: roles, forms, start event, operations, Camunda.

They read the XML (not SpiffWorkflow's spec), so they report even when the engine's parser
gives up on the first error. Generic BPMN rules are in engine/source_checks.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree

from .. import engine
from ..engine.source_checks import (
    BPMN_NS,
    SPIFF_NS,
    XSI_NS,
    Document,
    bpmn,
    is_flow_node,
    label,
    local,
)
from ..models import TIERS
from .forms import check_schema
from .roles import ROLES

MAX_FORM_BYTES = 2 * 1024 * 1024
MAX_FORM_DEPTH = 64
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_FOREIGN_PREFIXES = {CAMUNDA_NS: "camunda", ZEEBE_NS: "zeebe"}
_IGNORED_NAMESPACES = {None, BPMN_NS, SPIFF_NS, XSI_NS}
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")

_CAMUNDA_FORMS = {"formKey", "formRef", "formRefBinding", "formRefVersion", "formData"}
_CAMUNDA_ZEEBE_FORMS = {"formDefinition", "userTaskForm"}
_CAMUNDA_ASSIGNMENT = {
    "assignee",
    "candidateUsers",
    "candidateGroups",
    "dueDate",
    "followUpDate",
    "priority",
}
_CAMUNDA_SERVICE = {"class", "delegateExpression", "expression", "type", "topic", "connector"}
_CAMUNDA_LISTENERS = {"executionListener", "taskListener", "executionListeners", "taskListeners"}
_CAMUNDA_IO = {"inputOutput", "in", "out", "ioMapping", "input", "output"}
_CAMUNDA_IGNORED = {
    "asyncBefore",
    "asyncAfter",
    "exclusive",
    "jobPriority",
    "historyTimeToLive",
    "versionTag",
    "isStartableInTasklist",
    "taskPriority",
    "failedJobRetryTimeCycle",
    "properties",
    "property",
    "taskHeaders",
    "header",
    "initiator",
}


@dataclass
class FormSource:
    """Where form references are looked up: the upload first, then the deployed version."""

    uploaded: dict[str, Any] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # file name -> why it is not a form
    deployed: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> forms snapshot
    referenced: set[str] = field(default_factory=set)  # uploaded files some task uses

    def _match(self, names: list[str], ref: str) -> str | None:
        if ref in names:
            return ref
        base = ref.rsplit("/", 1)[-1]
        by_name = [n for n in names if n.rsplit("/", 1)[-1] == base]
        return by_name[0] if len(by_name) == 1 else None

    def find(self, key: str, ref: str) -> tuple[Any, str, str]:
        """(schema, "", "") when found; (None, reason, code) when missing or broken."""
        name = self._match(list(self.uploaded), ref)
        if name is not None:
            self.referenced.add(name)
            return self.uploaded[name], "", ""
        broken = self._match(list(self.broken), ref)
        if broken is not None:
            self.referenced.add(broken)
            return None, self.broken[broken], "form_file"
        snapshot = self.deployed.get(key, {})
        if ref in snapshot:
            return snapshot[ref], "", ""
        return (
            None,
            f"Файл формы «{ref}» не найден (загрузите его вместе с диаграммой).",
            "form_missing",
        )


def parse_forms(files: dict[str, bytes]) -> FormSource:
    """Parse uploaded form files; the ones that are not JSON are kept with the reason."""
    source = FormSource()
    for name, content in files.items():
        if len(content) > MAX_FORM_BYTES:
            source.broken[name] = (
                f"Файл формы «{name}» больше допустимого размера ({MAX_FORM_BYTES // 1024} КБ)."
            )
            continue
        try:
            schema = json.loads(content.decode("utf-8"))
            if _depth(schema) > MAX_FORM_DEPTH:
                raise RecursionError
            source.uploaded[name] = schema
        except UnicodeDecodeError:
            source.broken[name] = f"Файл формы «{name}» не в кодировке UTF-8."
        except RecursionError:
            source.broken[name] = (
                f"Файл формы «{name}» вложен слишком глубоко (более {MAX_FORM_DEPTH} уровней)."
            )
        except json.JSONDecodeError as exc:
            source.broken[name] = (
                f"Файл формы «{name}» не является корректным JSON "
                f"(строка {exc.lineno}, позиция {exc.colno}): {exc.msg}."
            )
    return source


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


@dataclass
class DocumentReport:
    """Findings on one BPMN document and the forms each executable process uses."""

    problems: list[engine.Problem] = field(default_factory=list)
    forms_by_key: dict[str, dict[str, Any]] = field(default_factory=dict)


def check_document(file: str, root: Any, forms: FormSource) -> DocumentReport:
    """Every product rule over a well-formed BPMN document."""
    from .operations import OPERATIONS  # registered at import; imported late to avoid cycles

    doc = Document(root)
    report = DocumentReport()
    add = report.problems.append

    def problem(element_id: str | None, message: str, severity: str = "error", code: str = ""):
        add(engine.Problem(file, element_id, message, severity, code))

    for process in doc.executable:
        key = process.get("id") or ""
        report.forms_by_key[key] = _check_process(
            doc, process, forms, problem, set(OPERATIONS), key
        )
    _check_foreign_extensions(doc, problem)
    return report


def _check_process(
    doc: Document,
    process: Any,
    forms: FormSource,
    problem: Any,
    operations: set[str],
    key: str,
) -> dict[str, Any]:
    has_lanes = process.find(bpmn("laneSet")) is not None
    for lane in process.iter(bpmn("lane")):
        role = (lane.get("name") or "").strip()
        if not role:
            problem(lane.get("id"), "У дорожки нет имени: имя дорожки — код роли.", code="lane")
        elif role not in ROLES:
            problem(
                lane.get("id"),
                f"Дорожка «{role}» не является ролью из каталога ролей.",
                code="lane_role",
            )
    nodes = [n for n in process.iter() if isinstance(n.tag, str) and is_flow_node(n)]
    refs: list[tuple[str, str]] = []
    starts = [n for n in nodes if local(n) == "startEvent" and n.getparent() is process]
    for start in starts:
        props = _properties(start)
        tier = props.get("scopeTier")
        if tier not in TIERS:
            problem(
                start.get("id"),
                "Стартовое событие должно задавать scopeTier: " + ", ".join(TIERS) + ".",
                code="scope_tier",
            )
        if start.get("id") not in doc.lane_of:
            problem(
                start.get("id"),
                "Стартовое событие должно лежать на дорожке роли, которая запускает процесс.",
                code="start_lane",
            )
        if props.get("formJsonSchemaFilename"):
            refs.append((start.get("id") or key, props["formJsonSchemaFilename"]))
    for node in nodes:
        node_id = node.get("id")
        kind = local(node)
        props = _properties(node)
        if has_lanes and node_id not in doc.lane_of and kind != "boundaryEvent":
            if kind in ("userTask", "manualTask"):
                problem(node_id, "Пользовательская задача вне дорожки роли.", code="no_lane")
            elif node.getparent() is process:
                problem(
                    node_id,
                    f"Элемент {label(node)} не лежит ни на одной дорожке.",
                    "warning",
                    "no_lane",
                )
        if kind in ("userTask", "manualTask"):
            refs.extend(_check_user_task(node, props, problem))
        if kind == "serviceTask":
            operator = node.find(f"{bpmn('extensionElements')}/{{{SPIFF_NS}}}serviceTaskOperator")
            if operator is not None and operator.get("id") not in operations:
                problem(
                    node_id,
                    f"Операция сервиса «{operator.get('id')}» неизвестна. Доступны: "
                    + ", ".join(sorted(operations))
                    + ".",
                    code="operation",
                )
    used: dict[str, Any] = {}
    for element_id, ref in refs:
        schema, reason, code = forms.find(key, ref)
        if schema is None:
            problem(element_id, reason, code=code)
            continue
        invalid = _schema_problem(schema)
        if invalid:
            problem(element_id, f"Форма «{ref}»: {invalid}", code="form_schema")
            continue
        used[ref] = schema
    return used


@lru_cache(maxsize=512)
def _cached_schema_problem(canonical: str) -> str | None:
    return check_schema(json.loads(canonical))


def _schema_problem(schema: Any) -> str | None:
    """check_schema, remembered per schema text: meta-validation is the slow part of a deploy."""
    try:
        canonical = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return check_schema(schema)
    try:
        return _cached_schema_problem(canonical)
    except RecursionError:
        return f"Форма вложена слишком глубоко (более {MAX_FORM_DEPTH} уровней)."


def _check_user_task(node: Any, props: dict[str, str], problem: Any) -> list[tuple[str, str]]:
    node_id = node.get("id") or ""
    refs = []
    form = props.get("formJsonSchemaFilename")
    if form:
        refs.append((node_id, form))
    elif not _camunda_form(node):
        problem(
            node_id,
            "У пользовательской задачи нет формы (formJsonSchemaFilename).",
            code="form_property",
        )
    docs = node.find(bpmn("documentation"))
    if docs is None or not (docs.text or "").strip():
        problem(node_id, "Не указано правовое основание (documentation).", "warning", "legal_basis")
    due = props.get("dueIn")
    if due and not (due.startswith("=") and due[1:].isidentifier()) and not _DURATION.match(due):
        problem(
            node_id,
            f"Срок dueIn «{due}» должен быть длительностью ISO 8601 (P10D) "
            "или ссылкой на параметр (=имя).",
            code="due_in",
        )
    return refs


def _camunda_form(node: Any) -> bool:
    for name in node.attrib:
        qname = etree.QName(name)
        if qname.namespace in _FOREIGN_PREFIXES and qname.localname in _CAMUNDA_FORMS:
            return True
    return any(
        isinstance(e.tag, str)
        and etree.QName(e).namespace in _FOREIGN_PREFIXES
        and etree.QName(e).localname in (_CAMUNDA_FORMS | _CAMUNDA_ZEEBE_FORMS)
        for e in node.iter()
    )


def _properties(node: Any) -> dict[str, str]:
    result = {}
    for prop in node.iterfind(
        f"{bpmn('extensionElements')}/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"
    ):
        if prop.get("name"):
            result[prop.get("name")] = prop.get("value") or ""
    return result


def _foreign_message(prefix: str, name: str) -> tuple[str, str, str]:
    """(message, severity, code) for an extension of another engine."""
    what = f"{prefix}:{name}"
    if name in _CAMUNDA_FORMS or name in _CAMUNDA_ZEEBE_FORMS:
        return (
            f"Формы Camunda ({what}) не поддерживаются: укажите JSON Schema формы "
            "свойством spiffworkflow formJsonSchemaFilename.",
            "error",
            "camunda_form",
        )
    if name in _CAMUNDA_ASSIGNMENT or name == "assignmentDefinition":
        return (
            f"Назначение исполнителей Camunda ({what}) не используется: задачу получают "
            "держатели роли дорожки; конкретного пользователя задаёт свойство assigneeVariable.",
            "warning",
            "camunda_assignment",
        )
    if name in _CAMUNDA_SERVICE or name == "taskDefinition":
        return (
            f"Реализация задачи Camunda ({what}) не поддерживается: сервисная задача вызывает "
            "операцию каталога через spiffworkflow:serviceTaskOperator.",
            "error",
            "camunda_service",
        )
    if name in _CAMUNDA_LISTENERS:
        return (
            f"Слушатели Camunda ({what}) не выполняются: используйте скриптовые задачи.",
            "warning",
            "camunda_listener",
        )
    if name in _CAMUNDA_IO:
        return (
            f"Отображение переменных Camunda ({what}) не поддерживается: данные процесса общие "
            "для всех шагов.",
            "warning",
            "camunda_io",
        )
    if name in _CAMUNDA_IGNORED:
        return (f"Настройка Camunda {what} не используется движком.", "warning", "camunda_ignored")
    return (
        f"Расширение {what} не поддерживается и будет проигнорировано.",
        "warning",
        "foreign_extension",
    )


def _check_foreign_extensions(doc: Document, problem: Any) -> None:
    """Report every extension of another engine on the semantic part of the diagram."""
    seen: set[tuple[str | None, str]] = set()
    semantic = [
        e for e in doc.root if isinstance(e.tag, str) and etree.QName(e).namespace == BPMN_NS
    ]
    for top in semantic:
        for element in top.iter():
            if not isinstance(element.tag, str):
                continue
            owner = _owner_id(element)
            namespace = etree.QName(element).namespace
            if namespace not in _IGNORED_NAMESPACES and _is_extension_root(element):
                _report(problem, seen, owner, namespace, etree.QName(element).localname)
            if namespace != BPMN_NS:
                continue
            for attr in element.attrib:
                qname = etree.QName(attr)
                if qname.namespace not in _IGNORED_NAMESPACES:
                    _report(problem, seen, element.get("id"), qname.namespace, qname.localname)


def _is_extension_root(element: Any) -> bool:
    parent = element.getparent()
    return parent is not None and etree.QName(parent).namespace == BPMN_NS


def _owner_id(element: Any) -> str | None:
    node = element
    while node is not None and not node.get("id"):
        node = node.getparent()
    if node is not None and etree.QName(node).namespace != BPMN_NS:
        return _owner_id(node.getparent()) if node.getparent() is not None else None
    return node.get("id") if node is not None else None


def _report(
    problem: Any, seen: set[tuple[str | None, str]], owner: str | None, ns: str | None, name: str
) -> None:
    prefix = _FOREIGN_PREFIXES.get(ns or "", ns or "")
    if (owner, f"{prefix}:{name}") in seen:
        return
    seen.add((owner, f"{prefix}:{name}"))
    message, severity, code = _foreign_message(prefix, name)
    problem(owner, message, severity, code)
