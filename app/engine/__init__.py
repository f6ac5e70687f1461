"""The only package that imports SpiffWorkflow. No Flask here."""

# The submodule `definitions` is imported before the cache of the same name, so that the
# package attribute `definitions` is the cache, whatever imports the submodule later.
from .definitions import ParseResult, Problem, ProcessDefinition, UserTaskInfo, parse_bundle  # noqa: I001
from .cache import DefinitionCache, definitions
from .runtime import (
    EngineError,
    MigrationBlocked,
    MissingElement,
    ReadyTask,
    Runner,
    ServiceDispatcher,
    TaskNotReady,
    migrate_state,
)
from .scripting import ScriptBudgetExceeded, ScriptError, ScriptRefused
from .xml_safety import UnsafeXmlError, parse_xml

__all__ = [
    "DefinitionCache",
    "EngineError",
    "MigrationBlocked",
    "MissingElement",
    "ParseResult",
    "Problem",
    "ProcessDefinition",
    "ReadyTask",
    "Runner",
    "ScriptBudgetExceeded",
    "ScriptError",
    "ScriptRefused",
    "ServiceDispatcher",
    "TaskNotReady",
    "UnsafeXmlError",
    "UserTaskInfo",
    "definitions",
    "migrate_state",
    "parse_bundle",
    "parse_xml",
]
