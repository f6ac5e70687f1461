"""Running workflows: start, complete human tasks, advance timers, specless (de)serialisation."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from . import compaction, scripting
from .definitions import ProcessDefinition

ServiceDispatcher = Callable[[str, dict[str, Any], dict[str, Any]], Any]


class EngineError(Exception):
    """The workflow could not advance; the message names the element and the cause."""

    def __init__(self, message: str, element_id: str | None = None) -> None:
        super().__init__(message)
        self.element_id = element_id


class TaskNotReady(EngineError):
    """The task is not (or no longer) waiting for a person."""


class _SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff's environment interface implemented by our restricted sandbox."""

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        return scripting.evaluate(expression, context, external_context)

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        scripting.execute(script, context, external_context)
        return True


def _no_services(operation: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
    raise EngineError(f"Операция сервиса «{operation}» недоступна в этом окружении.")


class SandboxScriptEngine(PythonScriptEngine):
    """Script engine that runs scripts in the sandbox and service tasks through a dispatcher."""

    def __init__(self, dispatcher: ServiceDispatcher | None = None) -> None:
        super().__init__(environment=_SandboxEnvironment())
        self.dispatcher = dispatcher or _no_services

    def validate(self, expression: str) -> None:
        # The DMN engine probes entries like "< 5" and expects SyntaxError for them.
        try:
            scripting.compile_expression(expression)
        except scripting.ScriptSyntaxError as exc:
            raise SyntaxError(str(exc)) from exc

    def call_service(self, task: Any, **kwargs: Any) -> str:
        params = {k: v["value"] for k, v in kwargs.get("operation_params", {}).items()}
        result = self.dispatcher(kwargs["operation_name"], params, task.data)
        return json.dumps(result, ensure_ascii=False, default=str)


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Serialises a workflow without its spec; the spec is re-attached from the version."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        dct[compaction.HISTORY_ATTR] = compaction.history(workflow)
        return dct

    def from_dict(
        self, dct: dict[str, Any], definition: ProcessDefinition | None = None
    ) -> BpmnWorkflow:
        if definition is None:
            raise EngineError("Нельзя восстановить экземпляр без описания его версии процесса.")
        workflow = self.target_class(
            definition.spec, definition.subprocess_specs, deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        setattr(workflow, compaction.HISTORY_ATTR, dct.pop(compaction.HISTORY_ATTR, []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _make_serializer()
_PAST = "1970-01-01T00:00:00+00:00"
STATE_FORMAT = "spiff-3.2-specless-1"


@dataclass(frozen=True)
class ReadyTask:
    """A human task waiting for a person, as the service layer mirrors it."""

    id: str
    bpmn_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    documentation: str
    data: dict[str, Any]


def _wrap(exc: Exception) -> EngineError:
    element_id = None
    task = getattr(exc, "task", None)
    if task is not None:
        element_id = getattr(task.task_spec, "bpmn_id", None)
    message = str(exc)
    notes = getattr(exc, "__notes__", None)
    if notes:
        message = f"{message} ({'; '.join(notes)})"
    return EngineError(message, element_id)


class Runner:
    """Operations on one workflow instance, bound to its definition and service dispatcher."""

    def __init__(self, definition: ProcessDefinition, workflow: BpmnWorkflow) -> None:
        self.definition = definition
        self.workflow = workflow

    @classmethod
    def start(
        cls,
        definition: ProcessDefinition,
        data: dict[str, Any],
        dispatcher: ServiceDispatcher | None = None,
        *,
        start_timer_fired: bool = False,
    ) -> Runner:
        """Create a workflow with start data and run it to its first wait state.

        start_timer_fired: the instance is created by the scheduler for an occurrence of its
        timer start event, so the start event goes on at once (a cycle does not repeat inside
        the instance; the next occurrence is a new instance).
        """
        workflow = BpmnWorkflow(
            definition.spec,
            definition.subprocess_specs,
            script_engine=SandboxScriptEngine(dispatcher),
        )
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        if start_timer_fired:
            for task in workflow.get_tasks(spec_class=StartEvent):
                definition_ = task.task_spec.event_definition
                if isinstance(definition_, CycleTimerEventDefinition):
                    # One round that is already due, then the cycle is over.
                    task._set_internal_data(event_value={"cycles": 1, "next": _PAST, "duration": 0})
                elif isinstance(definition_, TimerEventDefinition):
                    task._set_internal_data(event_fired=True)
        runner = cls(definition, workflow)
        runner.advance()
        return runner

    @classmethod
    def load(
        cls, definition: ProcessDefinition, state: str, dispatcher: ServiceDispatcher | None = None
    ) -> Runner:
        """Restore a workflow from its stored state, re-attaching the version's spec."""
        dct = json.loads(state)
        dct.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
        workflow = _SERIALIZER.from_dict(dct, definition=definition)
        workflow.script_engine = SandboxScriptEngine(dispatcher)
        return cls(definition, workflow)

    def dump(self) -> str:
        """Serialise the workflow state (without the spec) to JSON, finished history pruned.

        compaction.compact() drops the tasks the engine no longer reads, so the state, and
        the time to load and run it, does not grow with the rounds an instance has been
        through (and the tree never reaches SpiffWorkflow's depth limit of 1000).
        """
        compaction.compact(self.workflow)
        return _SERIALIZER.serialize_json(self.workflow)

    def advance(self) -> None:
        """Run every automatic step, including timers that are due."""
        try:
            self.workflow.do_engine_steps()
            # do_engine_steps refreshes timers last: a timer that fired leaves ready work behind.
            for _ in range(100):
                if not self.workflow.get_tasks(state=TaskState.READY, manual=False):
                    break
                self.workflow.do_engine_steps()
        except (SpiffWorkflowException, scripting.ScriptError) as exc:
            raise _wrap(exc) from exc

    def ready_tasks(self) -> list[ReadyTask]:
        """The human tasks that wait for a person now."""
        result = []
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            info = self.definition.user_tasks.get(spec.bpmn_id)
            result.append(
                ReadyTask(
                    id=str(task.id),
                    bpmn_id=spec.bpmn_id,
                    name=spec.bpmn_name or spec.bpmn_id,
                    lane=getattr(spec, "lane", None),
                    properties=dict(info.properties) if info else {},
                    documentation=info.documentation if info else "",
                    data=task.data,
                )
            )
        return result

    def complete(self, task_id: str, data: dict[str, Any]) -> None:
        """Complete a ready human task with the submitted data and run on."""
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, SpiffWorkflowException) as exc:
            raise TaskNotReady("Задача не найдена в экземпляре.") from exc
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady("Задача уже выполнена или ещё не доступна.")
        task.data.update(data)
        try:
            task.run()
        except (SpiffWorkflowException, scripting.ScriptError) as exc:
            raise _wrap(exc) from exc
        self.advance()

    @property
    def data(self) -> dict[str, Any]:
        """The data of the last completed task, i.e. what the process knows now."""
        last = self.workflow.last_task
        if last is not None:
            return dict(last.data)
        return dict(self.workflow.data)

    def is_completed(self) -> bool:
        """True when the process reached its end."""
        return bool(self.workflow.is_completed())

    def next_timer_at(self) -> datetime | None:
        """The earliest due time of any timer the workflow waits on."""
        times = []
        for event in self.workflow.waiting_events():
            value = event.value
            if isinstance(value, dict):
                value = value.get("next")
            if isinstance(value, str):
                try:
                    times.append(datetime.fromisoformat(value))
                except ValueError:
                    continue
        return min(times) if times else None

    def completed_path(self) -> list[str]:
        """BPMN ids of the diagram elements completed so far, in the order they finished."""
        items = [(at, str(bpmn_id)) for bpmn_id, at, *_ in compaction.history(self.workflow)]
        items += [
            (t.last_state_change, str(t.task_spec.bpmn_id))
            for t in self.workflow.get_tasks(state=TaskState.COMPLETED)
            if getattr(t.task_spec, "bpmn_id", None)
        ]
        items.sort(key=lambda item: item[0])
        return [bpmn_id for _at, bpmn_id in items]

    def waits_only_on_events(self) -> bool:
        """True when nothing is ready for a person and the workflow waits on timers/messages."""
        return not self.ready_tasks() and bool(self.workflow.waiting_events())


# --- Migration of a running workflow to another version of its process ---------------------

_KEPT_STATES = TaskState.FINISHED_MASK | TaskState.WAITING | TaskState.READY | TaskState.STARTED


@dataclass(frozen=True)
class MissingElement:
    """An element a workflow has reached that the target version no longer has."""

    element_id: str
    name: str
    waiting: bool

    def describe(self) -> str:
        """A Russian description for reports."""
        what = "ожидающий шаг" if self.waiting else "пройденный шаг"
        name = f"«{self.name}» " if self.name and self.name != self.element_id else ""
        return f"{what} {name}({self.element_id}) отсутствует в новой версии"


class MigrationBlocked(EngineError):
    """The workflow cannot be re-attached: elements it has reached are missing."""

    def __init__(self, missing: list[MissingElement]) -> None:
        super().__init__("; ".join(m.describe() for m in missing), missing[0].element_id)
        self.missing = missing


def _workflows(workflow: BpmnWorkflow) -> list[Any]:
    return [workflow, *workflow.subprocesses.values()]


def _target_spec(workflow: Any, top: BpmnWorkflow, new: ProcessDefinition) -> Any:
    if workflow is top:
        return new.spec
    return new.subprocess_specs.get(workflow.spec.name)


def _frontier(workflow: Any) -> list[Any]:
    """Unfinished tasks whose parent is finished: where the workflow actually stands."""
    result = []
    for task in workflow.tasks.values():
        if task.has_state(TaskState.FINISHED_MASK):
            continue
        parent = task.parent
        if parent is None or parent.has_state(TaskState.FINISHED_MASK):
            result.append(task)
    return result


def _kept(workflow: Any) -> list[Any]:
    """Tasks that survive a migration: finished ones and the frontier."""
    frontier = {t.id for t in _frontier(workflow)}
    return [
        t
        for t in workflow.tasks.values()
        if t.has_state(TaskState.FINISHED_MASK) or t.id in frontier
    ]


def migration_blockers(workflow: BpmnWorkflow, new: ProcessDefinition) -> list[MissingElement]:
    """Elements the workflow has reached (finished or waiting) that the new version lacks."""
    missing: dict[str, MissingElement] = {}
    for wf in _workflows(workflow):
        target = _target_spec(wf, workflow, new)
        for task in _kept(wf):
            spec = task.task_spec
            if target is not None and spec.name in target.task_specs:
                continue
            element_id = getattr(spec, "bpmn_id", None) or spec.name
            waiting = not task.has_state(TaskState.FINISHED_MASK)
            previous = missing.get(element_id)
            if previous is None or (waiting and not previous.waiting):
                missing[element_id] = MissingElement(
                    element_id, getattr(spec, "bpmn_name", None) or "", waiting
                )
    # Steps passed in rounds that compaction dropped from the tree still count as passed.
    names = {wf.spec.name: wf.spec for wf in _workflows(workflow)}
    for bpmn_id, _at, *rest in compaction.history(workflow):
        process = rest[0] if rest else workflow.spec.name
        target = new.spec if process == workflow.spec.name else new.subprocess_specs.get(process)
        if target is not None and any(
            getattr(s, "bpmn_id", None) == bpmn_id for s in target.task_specs.values()
        ):
            continue
        if bpmn_id not in missing:
            old_spec = names.get(process)
            name = ""
            if old_spec is not None:
                name = next(
                    (
                        getattr(s, "bpmn_name", None) or ""
                        for s in old_spec.task_specs.values()
                        if getattr(s, "bpmn_id", None) == bpmn_id
                    ),
                    "",
                )
            missing[bpmn_id] = MissingElement(bpmn_id, name, False)
    return sorted(missing.values(), key=lambda m: (not m.waiting, m.element_id))


def _rebind(workflow: Any, spec: Any) -> None:
    """Point every kept task at the new spec and predict the future from the new structure."""
    frontier = _frontier(workflow)
    for task in frontier:
        task._drop_children(force=True)
    workflow.spec = spec
    for task in list(workflow.tasks.values()):
        task.task_spec = spec.task_specs[task.task_spec.name]
    for task in frontier:
        _predict_children(task)


def _predict_children(task: Any) -> None:
    """Predict a kept task's children as SpiffWorkflow would have when it reached it."""
    parent = task.parent
    if task.has_state(TaskState.WAITING) and isinstance(
        getattr(parent, "task_spec", None), BoundaryEventSplit
    ):
        # Boundary events were predicted (as MAYBE) before the split made them wait.
        saved = task._state
        task._state = TaskState.MAYBE
        try:
            task.task_spec._predict_hook(task)
        finally:
            task._state = saved
        return  # the split was already at the end of its look-ahead
    task.task_spec._predict_hook(task)
    for child in task.children:
        child.task_spec._predict(child, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)


def migrate_state(
    old: ProcessDefinition,
    new: ProcessDefinition,
    state: str,
    dispatcher: ServiceDispatcher | None = None,
    new_data: dict[str, Any] | None = None,
) -> Runner:
    """Re-attach a stored workflow to another version of its process.

    SpiffWorkflow's task tree names task specs; the tree is kept (task ids stay the same) when
    every task the workflow has finished or waits on exists in the new spec. Predicted future
    tasks are dropped and predicted again from the new structure. `new_data` (e.g. defaults of
    parameters the new version introduced) is added to waiting tasks where a key is absent.
    Raises MigrationBlocked naming the missing elements.
    """
    runner = Runner.load(old, state, dispatcher)
    workflow = runner.workflow
    missing = migration_blockers(workflow, new)
    if missing:
        raise MigrationBlocked(missing)
    for wf in _workflows(workflow):
        frontier = _frontier(wf)
        _rebind(wf, _target_spec(wf, workflow, new))
        for task in frontier:
            for key, value in (new_data or {}).items():
                task.data.setdefault(key, value)
    workflow.subprocess_specs = dict(new.subprocess_specs)
    return Runner(new, workflow)
