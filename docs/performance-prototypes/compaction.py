"""Dropping finished history from a workflow's task tree before it is stored (PROTOTYPE).

SpiffWorkflow keeps every task it ever ran: a loop adds a new branch under the previous one,
so the tree (and the stored state, whose tasks each carry a data delta) grows with every
round, and load/run/dump time grows with it. The audit log is the legal history; the engine
only needs the frontier. This keeps, per workflow:

- the root, every unfinished task with all its descendants, and each one's parent (the
  data a task inherits when it becomes ready comes from its parent);
- the last completed task (Runner.data reads it);
- every instance of a join that has an unfinished instance, with its parent (joins look at
  the other instances and their parents to decide whether to fire, in every round);
- for structured joins (boundary/start events), their split and the split's children;
- the tasks that own subprocesses.

Dropped tasks are spliced out: a kept task hangs under its nearest kept ancestor, so the
ancestor relation among kept tasks is unchanged. The (bpmn_id, time) of each dropped
completed task is appended to `compacted_history` so that completed_path() stays whole.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState


def compact(top: Any) -> int:
    """Compact the top workflow and its subprocesses in place; returns the tasks dropped."""
    history: list[list[Any]] = getattr(top, "compacted_history", None) or []
    owners = set(top.subprocesses)
    dropped = 0
    for wf in [top, *top.subprocesses.values()]:
        dropped += _compact_one(wf, owners, history)
    top.compacted_history = history
    return dropped


def _compact_one(wf: Any, owners: set[Any], history: list[list[Any]]) -> int:
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
    live_joins = {t.task_spec for t in live if isinstance(t.task_spec, Join)}
    for task in tasks.values():
        if task.task_spec in live_joins:
            with_parent(task)
    for task in live:
        split = getattr(task.task_spec, "split_task", None)
        if isinstance(task.task_spec, Join) and split:
            found = task.find_ancestor(split)
            if found is not None:
                keep.add(found.id)
                keep.update(c.id for c in found.children)
    for task_id in owners:
        if task_id in tasks:
            with_parent(tasks[task_id])
    if len(keep) >= len(tasks):
        return 0
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
    for task in removed:
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id and task.has_state(TaskState.COMPLETED):
            history.append([str(bpmn_id), task.last_state_change])
    for tid in keep:
        tasks[tid]._children = new_children[tid]
    for task in removed:
        del tasks[task.id]
    return len(removed)
