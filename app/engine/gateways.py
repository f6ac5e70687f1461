"""A parallel join that stays correct inside a loop (fixes SpiffWorkflow 3.2's early firing).

SpiffWorkflow 3.2 counts every instance of a join task whose parent is completed as an arrived
branch, except the join instances on the arriving token's own path. When a loop passes the
join a second time, the instance that waited in the previous round (and was cancelled when the
join fired) is still in the tree with a completed parent, so the join fires after one branch
only, carrying the other branch's data of the previous round.

A join instance that had changed state before the latest firing of the same join on the
arriving token's path belongs to an earlier round: its token was consumed by that firing. The
join below ignores those. Cancelled instances of the current round still count, because the
join cancels the waiting sibling of the current round before it checks again.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.task_parsers import GatewayParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.util.task import TaskState


class RoundAwareParallelGateway(ParallelGateway):
    """bpmn:parallelGateway whose join only counts arrivals of the current round."""

    def _check_threshold_unstructured(self, my_task: Any) -> bool:
        tasks = my_task.workflow.get_tasks(spec_name=self.name)
        # Ancestors and descendants as id sets: the tree of a long loop is deep, and asking
        # is_descendant_of for every instance walks it again and again.
        above: set[Any] = set()
        node = my_task.parent
        while node is not None:
            above.add(node.id)
            node = node.parent
        below: set[Any] = set()
        stack = list(my_task.children)
        while stack:
            node = stack.pop()
            below.add(node.id)
            stack.extend(node.children)
        cutoff = max((t.last_state_change for t in tasks if t.id in above), default=None)
        waiting_inputs = set(self.inputs)

        def remove_ancestor(task: Any) -> None:
            # Walk up until a spec of the incoming flows is found.
            if task.task_spec in waiting_inputs:
                waiting_inputs.remove(task.task_spec)
            elif task.parent is not None:
                remove_ancestor(task.parent)

        for task in tasks:
            if task.id in below:
                # First pass of a loop: these come after this join and cannot be waited for.
                remove_ancestor(task)
            elif task.id in above:
                continue
            elif cutoff is not None and task.last_state_change <= cutoff:
                continue  # consumed by an earlier firing of this join
            elif (
                task.parent.state == TaskState.COMPLETED and task.parent.task_spec in waiting_inputs
            ):
                waiting_inputs.remove(task.parent.task_spec)
        return len(waiting_inputs) == 0


def with_round_aware_joins(parser: Any) -> Any:
    """Make the parser build parallel gateways as RoundAwareParallelGateway (returns it)."""
    overrides = dict(parser.OVERRIDE_PARSER_CLASSES)
    overrides[full_tag("parallelGateway")] = (GatewayParser, RoundAwareParallelGateway)
    parser.OVERRIDE_PARSER_CLASSES = overrides
    return parser
