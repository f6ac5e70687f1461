"""The only package that imports SpiffWorkflow. No Flask here."""

from .cache import DefinitionCache, definitions
from .definitions import ParseResult, Problem, ProcessDefinition, UserTaskInfo, parse_bundle
from .runtime import EngineError, ReadyTask, Runner, ServiceDispatcher, TaskNotReady
from .scripting import ScriptBudgetExceeded, ScriptError, ScriptRefused
from .xml_safety import UnsafeXmlError, parse_xml

__all__ = [
    "DefinitionCache",
    "EngineError",
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
    "parse_bundle",
    "parse_xml",
]
