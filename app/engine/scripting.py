"""Restricted script environment for BPMN scripts, conditions, timer and DMN expressions.

SpiffWorkflow's default environment is plain eval/exec with every builtin. Here scripts are
compiled by RestrictedPython: no imports, no underscore attributes, a whitelist of builtins,
bounded loops and bounded ranges, and a time budget enforced by a line tracer. Operations that
could build a huge value in one step are guarded, and the data a run holds is measured
(`script_limits`); a MemoryError or RecursionError stops only the script, never the worker.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from types import CodeType, FrameType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)

from . import script_limits
from .script_limits import LimitingTransformer, ScriptTooLarge

SCRIPT_FILENAME = "<bpmn-script>"
MAX_RANGE = 100_000
MAX_LINES = 200_000
MAX_SECONDS = 2.0
_TOO_DEEP = "Выражение вложено слишком глубоко, чтобы его разобрать; разбейте его на части."
LIVE_CHECK_LINES = 1_000  # how often the data held by a running script is measured


class ScriptError(Exception):
    """A script or expression was refused or failed; the message is for people."""


class ScriptSyntaxError(ScriptError):
    """The source is not valid Python."""


class ScriptRefused(ScriptError):
    """A script uses something the sandbox forbids (imports, dunders, files)."""


class ScriptBudgetExceeded(ScriptError):
    """A script ran longer than its budget or built more data than it may."""


def _limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ScriptBudgetExceeded(f"range() длиной более {MAX_RANGE} запрещён в сценариях.")
    return result


def _append(a: Any, b: Any) -> Any:
    """`a += b`: the old `a` is usually dropped, so only the part added is counted."""
    if isinstance(a, str | bytes | list | tuple) and isinstance(b, str | bytes | list | tuple):
        if len(a) + len(b) > script_limits.MAX_VALUE:
            return script_limits.guarded_add(a, b)  # refuses with the size in the message
        script_limits.guarded_star(b)
    return a + b


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "+=": _append,
        "-=": script_limits.guarded_sub,
        "*=": script_limits.guarded_mul,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if op not in operations:
        raise ScriptRefused(f"Операция {op} не разрешена в сценариях.")
    return operations[op](x, y)


_ALLOWED_EXTRA_BUILTINS: dict[str, Any] = {
    "sum": sum,
    "any": any,
    "all": all,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "sorted": sorted,
    "enumerate": enumerate,
    "zip": zip,
    "reversed": reversed,
    "map": map,
    "filter": filter,
}
_FORBIDDEN_BUILTINS = {"setattr", "delattr", "__build_class__", "id", "hash"}


def _builtins() -> dict[str, Any]:
    names = {k: v for k, v in safe_builtins.items() if k not in _FORBIDDEN_BUILTINS}
    names.update(_ALLOWED_EXTRA_BUILTINS)
    names["range"] = _limited_range
    names.update(script_limits.builtins_overrides())
    return names


_BUILTINS = _builtins()


_GUARD_NAMES = script_limits.guard_names()


def _guards() -> dict[str, Any]:
    return {
        "__builtins__": _BUILTINS,
        **_GUARD_NAMES,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
    }


def _endless(loop: ast.While) -> bool:
    """True for `while <truthy constant>:` whose body has no break of its own.

    Only provably endless loops are refused when a diagram is deployed; any other loop that
    runs too long is stopped at run time by the line and time budget.
    """
    if not (isinstance(loop.test, ast.Constant) and loop.test.value):
        return False
    stack: list[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return False
        if isinstance(node, ast.While | ast.For | ast.AsyncFor):
            stack.extend(node.orelse)  # a break in an inner loop's body ends only that loop
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return True


def _reject_forbidden_nodes(source: str, mode: str) -> None:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ScriptSyntaxError(f"Синтаксическая ошибка в строке {exc.lineno}: {exc.msg}") from exc
    except (RecursionError, MemoryError):
        raise ScriptRefused(_TOO_DEEP) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise ScriptRefused("Импорт модулей в сценариях запрещён.")
        if isinstance(node, ast.Name) and node.id in {
            "open",
            "exec",
            "eval",
            "compile",
            "globals",
            "locals",
            "vars",
            "getattr",
            "__import__",
        }:
            raise ScriptRefused(f"Функция {node.id} в сценариях запрещена.")
        if isinstance(node, ast.While) and _endless(node):
            raise ScriptRefused(
                f"Бесконечный цикл в строке {node.lineno}: у while с постоянно истинным "
                "условием нет выхода (break)."
            )
    too_large = script_limits.static_size_problem(tree)
    if too_large:
        raise ScriptRefused(f"Сценарий создаёт слишком большое значение. {too_large}")


@lru_cache(maxsize=2048)
def compile_script(source: str) -> CodeType:
    """Compile a script task body in the sandbox, raising ScriptError with a readable reason."""
    _reject_forbidden_nodes(source, "exec")
    try:
        result = compile_restricted_exec(
            source, filename=SCRIPT_FILENAME, policy=LimitingTransformer
        )
    except (RecursionError, MemoryError):
        raise ScriptRefused(_TOO_DEEP) from None
    if result.errors or result.code is None:
        raise ScriptRefused("; ".join(result.errors) or "Сценарий не компилируется.")
    return result.code


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CodeType:
    """Compile a condition or expression in the sandbox."""
    _reject_forbidden_nodes(source.strip(), "eval")
    try:
        result = compile_restricted_eval(
            source.strip(), filename=SCRIPT_FILENAME, policy=LimitingTransformer
        )
    except (RecursionError, MemoryError):
        raise ScriptRefused(_TOO_DEEP) from None
    if result.errors or result.code is None:
        raise ScriptRefused("; ".join(result.errors) or "Выражение не компилируется.")
    return result.code


def _held(scope: dict[str, Any]) -> dict[str, Any]:
    """The script's own data in a scope: no guards, builtins or helper functions."""
    return {k: v for k, v in scope.items() if not k.startswith("_") and not callable(v)}


class _Budget:
    """Line tracer that stops sandboxed code after too many lines, too much time or data."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.lines = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.held_limit = script_limits.MAX_GROWTH + _measure_held(scope, sys.maxsize)
        self.next_check = LIVE_CHECK_LINES

    def trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            return None
        if event == "line":
            self.lines += 1
            if self.lines > MAX_LINES or time.monotonic() > self.deadline:
                raise ScriptBudgetExceeded("Сценарий превысил допустимое время выполнения.")
            if self.lines >= self.next_check:
                self._check_held(frame)
        return self.trace

    def _check_held(self, frame: FrameType | None) -> None:
        """Measure what the script's frames hold; the next check waits as long as this took."""
        held: list[Any] = []
        while frame is not None and frame.f_code.co_filename == SCRIPT_FILENAME:
            held.append(_held(frame.f_locals))
            frame = frame.f_back
        _, steps = script_limits.measure_steps(held, self.held_limit, shared=True)
        self.next_check = self.lines + max(LIVE_CHECK_LINES, steps)


def _measure_held(scope: dict[str, Any], limit: int) -> int:
    return script_limits.measure(_held(scope), limit, shared=True)


def _run(code: CodeType, scope: dict[str, Any]) -> Any:
    budget = _Budget(scope)
    previous = sys.gettrace()
    token = script_limits.begin()
    sys.settrace(budget.trace)
    try:
        return eval(code, scope)  # noqa: S307 - code was compiled by RestrictedPython
    except ScriptTooLarge as exc:
        raise ScriptBudgetExceeded(str(exc)) from None
    except MemoryError:
        raise ScriptBudgetExceeded(
            "Сценарий остановлен: ему не хватило памяти. Уменьшите объём данных."
        ) from None
    except RecursionError:
        raise ScriptBudgetExceeded("Сценарий остановлен: слишком глубокая рекурсия.") from None
    except Exception as exc:
        _check_printable(exc)
        raise
    finally:
        sys.settrace(previous)
        script_limits.end(token)


def _check_printable(exc: BaseException) -> None:
    """An error raised by a script is turned into text by the engine: `raise ValueError(a)`
    with a value that shares its parts would print 2**40 items. Its arguments (and those of
    the errors it was raised from) are measured as text would spell them out."""
    seen: set[int] = set()
    pending: BaseException | None = exc
    chain: list[BaseException] = []
    while pending is not None and id(pending) not in seen and len(chain) < 100:
        seen.add(id(pending))
        chain.append(pending)
        pending = pending.__cause__ or pending.__context__
    try:
        script_limits.measure([list(e.args) for e in chain], script_limits.MAX_VALUE)
    except ScriptTooLarge:
        raise ScriptBudgetExceeded(
            "Сценарий остановлен: ошибка, которую он вызвал, содержит слишком большое значение."
        ) from None


def _check_result(value: Any, before: int) -> None:
    """Refuse data that would be stored much larger than it came in (counted as JSON)."""
    try:
        script_limits.measure(value, before + script_limits.MAX_GROWTH)
    except ScriptTooLarge as exc:
        raise ScriptBudgetExceeded(str(exc)) from None


def _scope(context: dict[str, Any], external: dict[str, Any] | None) -> dict[str, Any]:
    scope = _guards()
    scope.update(external or {})
    scope.update(context)
    return scope


def evaluate(
    expression: str, context: dict[str, Any], external: dict[str, Any] | None = None
) -> Any:
    """Evaluate an expression over process data in the sandbox."""
    result = _run(compile_expression(expression), _scope(context, external))
    _check_result(result, 0)
    return result


def execute(script: str, context: dict[str, Any], external: dict[str, Any] | None = None) -> None:
    """Run a script over process data in the sandbox, writing its plain variables back."""
    code = compile_script(script)
    scope = _scope(context, external)
    hidden = set(scope) - set(context)
    try:
        before = script_limits.measure(context, sys.maxsize)
    except ScriptTooLarge as exc:  # data that refers to itself did not come from a form
        raise ScriptBudgetExceeded(str(exc)) from None
    _run(code, scope)
    updated = {
        name: value
        for name, value in scope.items()
        if not (name.startswith("_") or callable(value) and not isinstance(value, type))
        and not (name in hidden and name not in context)
    }
    _check_result(updated, before)
    context.update(updated)
    for name in [k for k in context if k not in scope]:
        del context[name]


def check_compiles(sources: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return (label, message) for every script or expression that does not compile."""
    problems = []
    for label, source in sources:
        try:
            if label.startswith("script:"):
                compile_script(source)
            else:
                compile_expression(source)
        except ScriptError as exc:
            problems.append((label, str(exc)))
    return problems
