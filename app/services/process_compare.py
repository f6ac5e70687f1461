"""Comparing two versions of a process element by element: tasks, flows, lanes, forms."""

from __future__ import annotations

import hashlib
from typing import Any

from lxml import etree

from ..engine import UnsafeXmlError, parse_xml
from ..engine.source_checks import BPMNDI_NS, SPIFF_NS, Document, bpmn, local
from ..models import ProcessVersion, User
from . import designer


def _text(element: Any, tag: str) -> str:
    found = element.find(bpmn(tag))
    return (found.text or "").strip() if found is not None else ""


def _spiff(element: Any) -> dict[str, Any]:
    """Spiff extension data of a node: properties, operator, pre/post scripts."""
    result: dict[str, Any] = {}
    ext = element.find(bpmn("extensionElements"))
    if ext is None:
        return result
    for prop in ext.iterfind(f"{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        result[f"property:{prop.get('name')}"] = prop.get("value")
    operator = ext.find(f"{{{SPIFF_NS}}}serviceTaskOperator")
    if operator is not None:
        result["operation"] = operator.get("id")
        result["operation_result"] = operator.get("resultVariable")
        for param in operator.iter(f"{{{SPIFF_NS}}}parameter"):
            result[f"operation_param:{param.get('id')}"] = param.get("value")
    for tag in ("preScript", "postScript", "calledDecisionId"):
        found = ext.find(f"{{{SPIFF_NS}}}{tag}")
        if found is not None:
            result[tag] = (found.text or "").strip()
    return result


def _node_model(doc: Document, node: Any) -> dict[str, Any]:
    lane = doc.lane_of.get(node.get("id") or "")
    model: dict[str, Any] = {
        "type": local(node),
        "name": (node.get("name") or "").strip(),
        "lane": lane.get("name") if lane is not None else None,
        "documentation": _text(node, "documentation"),
        "script": _text(node, "script"),
        "default": node.get("default"),
        "attached_to": node.get("attachedToRef"),
        "cancel_activity": node.get("cancelActivity"),
        "called_element": node.get("calledElement"),
    }
    timer = node.find(bpmn("timerEventDefinition"))
    if timer is not None:
        for child in timer:
            if isinstance(child.tag, str):
                model[f"timer:{local(child)}"] = (child.text or "").strip()
    for definition in node:
        if isinstance(definition.tag, str) and local(definition).endswith("EventDefinition"):
            model.setdefault("events", []).append(local(definition))
    if node.find(bpmn("multiInstanceLoopCharacteristics")) is not None:
        model["multi_instance"] = True
    model.update(_spiff(node))
    return {k: v for k, v in model.items() if v not in (None, "", [], False)}


def _flow_model(doc: Document, flow: Any) -> dict[str, Any]:
    cond = flow.find(bpmn("conditionExpression"))
    source = doc.by_id.get(flow.get("sourceRef") or "")
    model = {
        "name": (flow.get("name") or "").strip(),
        "source": flow.get("sourceRef"),
        "target": flow.get("targetRef"),
        "condition": (cond.text or "").strip() if cond is not None else "",
        "default": source is not None and source.get("default") == flow.get("id"),
    }
    return {k: v for k, v in model.items() if v not in (None, "", False)}


def _lane_model(lane: Any) -> dict[str, Any]:
    return {
        "name": (lane.get("name") or "").strip(),
        "nodes": sorted((r.text or "").strip() for r in lane.iter(bpmn("flowNodeRef"))),
    }


def _layout_digest(root: Any) -> str:
    digest = hashlib.sha256()
    for diagram in root.iter(f"{{{BPMNDI_NS}}}BPMNDiagram"):
        digest.update(etree.tostring(diagram, method="c14n"))
    return digest.hexdigest()


def _model(version: ProcessVersion) -> dict[str, Any]:
    """Elements of the version's executable process, keyed by id."""
    name = designer.main_file(version)
    try:
        root = parse_xml(version.files[name].encode("utf-8"))
    except (KeyError, UnsafeXmlError, etree.XMLSyntaxError):
        return {"tasks": {}, "flows": {}, "lanes": {}, "layout": ""}
    doc = Document(root)
    process = next((p for p in doc.executable if p.get("id") == version.key), None)
    if process is None:
        return {"tasks": {}, "flows": {}, "lanes": {}, "layout": ""}
    inside = {id(e) for e in process.iter()}
    return {
        "tasks": {n.get("id"): _node_model(doc, n) for n in doc.flow_nodes if id(n) in inside},
        "flows": {f.get("id"): _flow_model(doc, f) for f in doc.flows if id(f) in inside},
        "lanes": {lane.get("id"): _lane_model(lane) for lane in process.iter(bpmn("lane"))},
        "process": {
            "name": (process.get("name") or "").strip(),
            "documentation": _text(process, "documentation"),
        },
        "layout": _layout_digest(root),
    }


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"field": k, "from": old.get(k), "to": new.get(k)}
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]


def _summary(element_id: str, model: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "name", "lane", "source", "target", "nodes")
    return {"id": element_id, **{k: model[k] for k in keep if k in model}}


def _diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> dict[str, Any]:
    changed = []
    for element_id in sorted(set(old) & set(new)):
        changes = _changes(old[element_id], new[element_id])
        if changes:
            changed.append({**_summary(element_id, new[element_id]), "changes": changes})
    return {
        "added": [_summary(i, new[i]) for i in sorted(set(new) - set(old))],
        "removed": [_summary(i, old[i]) for i in sorted(set(old) - set(new))],
        "changed": changed,
    }


def _schema(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _form_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    before = _schema(old.get("properties"))
    after = _schema(new.get("properties"))
    required_before = set(old.get("required") or [])
    required_after = set(new.get("required") or [])
    return {
        "fields_added": sorted(set(after) - set(before)),
        "fields_removed": sorted(set(before) - set(after)),
        "fields_changed": sorted(f for f in set(before) & set(after) if before[f] != after[f]),
        "required_added": sorted(required_after - required_before),
        "required_removed": sorted(required_before - required_after),
        "other_changes": sorted(
            k
            for k in set(old) | set(new)
            if k not in ("properties", "required") and old.get(k) != new.get(k)
        ),
    }


def _forms_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    changed = [
        {"path": path, **_form_changes(_schema(old[path]), _schema(new[path]))}
        for path in sorted(set(old) & set(new))
        if old[path] != new[path]
    ]
    return {
        "added": [{"path": p} for p in sorted(set(new) - set(old))],
        "removed": [{"path": p} for p in sorted(set(old) - set(new))],
        "changed": changed,
    }


def _other_files(old: ProcessVersion, new: ProcessVersion) -> dict[str, Any]:
    main_old, main_new = designer.main_file(old), designer.main_file(new)
    before = {n: t for n, t in old.files.items() if n != main_old}
    after = {n: t for n, t in new.files.items() if n != main_new}
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(n for n in set(before) & set(after) if before[n] != after[n]),
    }


def compare(actor: User | None, key: str, from_version: int, to_version: int) -> dict[str, Any]:
    """Differences between two versions: added, removed and changed elements and forms."""
    old = designer.get_version(actor, key, from_version)
    new = designer.get_version(actor, key, to_version)
    before, after = _model(old), _model(new)
    result = {
        "key": key,
        "from": from_version,
        "to": to_version,
        "identical": old.sha256 == new.sha256,
        "process": _changes(before.get("process", {}), after.get("process", {})),
        "tasks": _diff(before["tasks"], after["tasks"]),
        "flows": _diff(before["flows"], after["flows"]),
        "lanes": _diff(before["lanes"], after["lanes"]),
        "forms": _forms_diff(old.forms, new.forms),
        "files": _other_files(old, new),
        "layout_changed": before["layout"] != after["layout"],
    }
    return result
