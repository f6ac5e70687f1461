"""Dropping finished history from a workflow's task tree before it is stored.

SpiffWorkflow keeps every task it ever ran: a loop adds a new branch under the previous one,
so the tree (and the stored state, where each task carries a data delta against its parent)
grows with every round, and loading, running and dumping grow with it. Worse, SpiffWorkflow's
TaskIterator stops at depth 1000: after about 200 revision loops it no longer reaches the
ready task and the instance loses its open task. The audit log is the legal history; the
engine only needs the frontier. compact() keeps, per workflow:

- the root, every unfinished task with all its descendants, and each one's parent (a task
  inherits its parent's data when it becomes ready);
- the last completed task (Runner.data reads it);
- for every join that has an unfinished instance: the instances of the current round with
  their parents, and the latest earlier firing on the path of each unfinished instance (the
  round-aware parallel join of gateways.py compares rounds by it); instances consumed by an
  earlier firing are ignored by the join anyway and are dropped;
- for structured joins (boundary events), their split and the split's children;
- the tasks that own subprocesses, with their parents.

Dropped tasks are spliced out: a kept task hangs under its nearest kept ancestor, so the
ancestor relation among kept tasks does not change. Each dropped completed task leaves
[bpmn_id, time] ([bpmn_id, time, process id] inside a subprocess) in `compacted_history` of
the top workflow, which
Runner.completed_path() and migration_blockers() read, so the diagram path stays whole.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

HISTORY_ATTR = "compacted_history"


def history(top: Any) -> list[list[Any]]:
    """[bpmn_id, last_state_change(, subprocess spec name)] of the completed tasks dropped."""
    return list(getattr(top, HISTORY_ATTR, None) or [])


def compact(top: Any) -> int:
    """Compact the top workflow and its subprocesses in place; returns the tasks dropped."""
    dropped_history = history(top)
    owners = set(top.subprocesses)
    dropped = 0
    for wf in [top, *top.subprocesses.values()]:
        dropped += _compact_one(wf, owners, dropped_history, top.spec.name)
    setattr(top, HISTORY_ATTR, dropped_history)
    return dropped


def _join_keep(tasks: dict[Any, Any], live: list[Any]) -> set[Any]:
    """Instances of live joins the join logic may still read, with their parents."""
    keep: set[Any] = set()
    by_spec: dict[Any, list[Any]] = {}
    for task in live:
        if isinstance(task.task_spec, Join):
            by_spec.setdefault(task.task_spec, []).append(task)
    instances: dict[Any, list[Any]] = {spec: [] for spec in by_spec if not spec.split_task}
    if instances:
        for task in tasks.values():
            if task.task_spec in instances:
                instances[task.task_spec].append(task)
    for spec, live_instances in by_spec.items():
        if spec.split_task:
            # Structured joins (boundary events) look only below their split.
            for task in live_instances:
                split = task.find_ancestor(spec.split_task)
                if split is not None:
                    keep.add(split.id)
                    keep.update(c.id for c in split.children)
            continue
        keep |= _round_of(spec, live_instances, instances[spec])
    return keep


def _round_of(spec: Any, live_instances: list[Any], all_instances: list[Any]) -> set[Any]:
    """The instances of an unstructured join that belong to the current round, with parents.

    An instance that changed state before the latest firing of the join on a live instance's
    path was consumed by that firing: gateways.RoundAwareParallelGateway ignores it, so it is
    dropped; the firing itself is kept, it marks where the round starts.
    """
    keep: set[Any] = set()
    cutoffs: list[float] = []
    for task in live_instances:
        firing = None
        node = task.parent
        while node is not None:
            if node.task_spec is spec and (
                firing is None or node.last_state_change > firing.last_state_change
            ):
                firing = node
            node = node.parent
        if firing is None:
            cutoffs = []
            break
        keep.add(firing.id)
        cutoffs.append(firing.last_state_change)
    cutoff = min(cutoffs) if cutoffs else None
    for task in all_instances:
        if cutoff is None or task.last_state_change > cutoff:
            keep.add(task.id)
            if task.parent is not None:
                keep.add(task.parent.id)
    return keep


def _compact_one(wf: Any, owners: set[Any], dropped_history: list[list[Any]], top_name: str) -> int:
    tasks = wf.tasks
    root = wf.task_tree
    keep = {root.id}

    def with_parent(task: Any) -> None:
        keep.add(task.id)
        if task.parent is not None:
            keep.add(task.parent.id)

    live = [t for t in tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    stack = list(live)
    seen: set[Any] = set()
    while stack:
        task = stack.pop()
        if task.id in seen:
            continue
        seen.add(task.id)
        with_parent(task)
        stack.extend(task.children)
    if wf.last_task is not None and wf.last_task.id in tasks:
        with_parent(wf.last_task)
    keep |= _join_keep(tasks, live)
    for task_id in owners:
        if task_id in tasks:
            with_parent(tasks[task_id])
    if len(keep) >= len(tasks):
        return 0

    # Splice: walk the tree once, hanging each kept task under its nearest kept ancestor.
    new_children: dict[Any, list[Any]] = {tid: [] for tid in keep}
    walk: list[tuple[Any, Any]] = [(root, None)]
    removed = []
    while walk:
        task, anchor = walk.pop()
        if task.id in keep:
            if anchor is not None:
                new_children[anchor].append(task.id)
                task._parent = anchor
            anchor = task.id
        else:
            removed.append(task)
        for child in reversed(task.children):
            walk.append((child, anchor))
    removed.sort(key=lambda t: t.last_state_change)
    process = wf.spec.name
    for task in removed:
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id and task.has_state(TaskState.COMPLETED):
            entry = [str(bpmn_id), round(task.last_state_change, 6)]
            if process != top_name:
                entry.append(process)
            dropped_history.append(entry)
    for tid in keep:
        if tid in tasks:
            tasks[tid]._children = new_children[tid]
    for task in removed:
        del tasks[task.id]
    return len(removed)
