"""Memory limits of the script sandbox: guarded operators, builtins and methods.

The line and time budget cannot stop a single operation that builds a huge value in one C
call (`[0] * 10**9`, `10**10**8`, `'x'.ljust(10**10)`), so every such operation is checked
*before* it runs: one value may hold at most MAX_VALUE items or characters and an integer at
most MAX_INT_BITS bits. Larger values built step by step are caught by two running totals:
the data a run has allocated through those operations (MAX_ALLOCATED) and the data its
variables hold, measured every few thousand lines (MAX_GROWTH over what the run started with).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import safer_getattr
from RestrictedPython.transformer import copy_locations

MAX_VALUE = 1_000_000  # items or characters in one value
MAX_INT_BITS = 100_000  # about 30 000 decimal digits
MAX_ALLOCATED = 5_000_000  # items or characters built by guarded operations in one run
MAX_GROWTH = 5_000_000  # how much more data a run may hold (and leave behind) than it got
CHARGE_FROM = 64  # smaller results are not counted towards MAX_ALLOCATED
_SIZED = (str, bytes, list, tuple)


class ScriptTooLarge(Exception):
    """A script tried to build more data than the sandbox allows (message in Russian)."""


@dataclass
class Allocation:
    """What one run of a script has built so far."""

    allocated: int = 0


_CURRENT: ContextVar[Allocation | None] = ContextVar("script_allocation", default=None)


def begin() -> Any:
    """Start counting for one run; returns the token for `end`."""
    return _CURRENT.set(Allocation())


def end(token: Any) -> None:
    """Stop counting for the run started with `begin`."""
    _CURRENT.reset(token)


def _n(number: int) -> str:
    """A number with thousands separated by spaces, as Russian texts write it."""
    return f"{number:,}".replace(",", "\u00a0")


def _too_large(what: str) -> ScriptTooLarge:
    return ScriptTooLarge(
        f"Сценарий остановлен: {what} — больше, чем допускается "
        f"(не более {_n(MAX_VALUE)} элементов или символов в одном значении)."
    )


def _charge(size: int) -> None:
    if size > MAX_VALUE:
        raise _too_large(f"значение из {_n(size)} элементов или символов")
    if size < CHARGE_FROM:
        return
    current = _CURRENT.get()
    if current is None:
        return
    current.allocated += size
    if current.allocated > MAX_ALLOCATED:
        raise ScriptTooLarge(
            "Сценарий остановлен: он создаёт слишком много данных (более "
            f"{_n(MAX_ALLOCATED)} элементов или символов за один запуск)."
        )


def _int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ScriptTooLarge(
            "Сценарий остановлен: число получилось бы длиной около "
            f"{_n(bits * 3 // 10)} десятичных цифр (допускается до "
            f"{_n(MAX_INT_BITS * 3 // 10)})."
        )


def guarded_mul(a: Any, b: Any) -> Any:
    """`a * b` that refuses to build a sequence or a number that is too large.

    Checks are inlined: every Python call made here is one more call the tracer sees.
    """
    if isinstance(a, int) and isinstance(b, int):
        bits = a.bit_length() + b.bit_length()  # bit_length ignores the sign
        if bits > MAX_INT_BITS:
            _int_bits(bits)
    elif isinstance(a, _SIZED) and isinstance(b, int):
        size = len(a) * b
        if size >= CHARGE_FROM:
            _charge(size)
    elif isinstance(b, _SIZED) and isinstance(a, int):
        size = len(b) * a
        if size >= CHARGE_FROM:
            _charge(size)
    return a * b


def guarded_add(a: Any, b: Any) -> Any:
    """`a + b` with the size of a concatenation checked first."""
    if isinstance(a, _SIZED) and isinstance(b, _SIZED):
        size = len(a) + len(b)
        if size >= CHARGE_FROM:
            _charge(size)
    return a + b


def _pow_bits(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _int_bits(abs(base).bit_length() * exponent)


def guarded_pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    """`base ** exponent` (and the builtin `pow`) without numbers of millions of digits."""
    if modulo is not None:
        return pow(base, exponent, modulo)
    _pow_bits(base, exponent)
    return base**exponent


def guarded_lshift(a: Any, b: Any) -> Any:
    """`a << b` without numbers of millions of digits."""
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a:
        _int_bits(abs(a).bit_length() + b)
    return a << b


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBERS = re.compile(r"\d+")
_WIDE_PERCENT = re.compile(
    r"%(?:\([^)]*\))?[^a-zA-Z%]*(\*|\d{7,})"
)  # a star or a width of 7+ digits


def _check_widths(numbers: Iterable[str | None]) -> None:
    for number in numbers:
        if number == "*":
            raise ScriptTooLarge("Ширина «*» в %-форматировании не поддерживается в сценариях.")
        if number and int(number) > MAX_VALUE:
            raise _too_large(f"ширина поля {_n(int(number))}")


def guarded_mod(a: Any, b: Any) -> Any:
    """`a % b`: for %-formatting of text the widths and the arguments are checked first."""
    if isinstance(a, str | bytes):
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        if _WIDE_PERCENT.search(text):
            for match in _PERCENT_SPEC.finditer(text):
                _check_widths(match.groups())
        if isinstance(b, _CONTAINERS):
            measure(b, MAX_VALUE)
        result = a % b
        if len(result) >= CHARGE_FROM:
            _charge(len(result))
        return result
    return a % b


def guarded_format(value: Any, conversion: int, spec: str) -> str:
    """One `{value!r:spec}` of an f-string, with the width and the value's size checked."""
    measure(value, MAX_VALUE)
    _check_widths(_FORMAT_NUMBERS.findall(spec))
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("a"):
        value = ascii(value)
    elif conversion == ord("s"):
        value = str(value)
    result = format(value, spec)
    _charge(len(result))
    return result


def guarded_star(value: Any) -> Any:
    """`*value` inside a literal: `[*a, *a]` copies, so it is counted like `a + a`."""
    if isinstance(value, list | tuple | str | dict | set | frozenset):
        _charge(len(value))
    return value


def guarded_getitem(obj: Any, index: Any) -> Any:
    """`obj[index]`; a slice is a copy and is counted."""
    result = default_guarded_getitem(obj, index)
    if isinstance(index, slice) and isinstance(result, _SIZED):
        _charge(len(result))
    return result


def _counted(build: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        result = build(*args, **kwargs)
        if hasattr(result, "__len__"):
            _charge(len(result))
        return result

    call.__name__ = getattr(build, "__name__", "call")
    return call


def _as_text(build: Callable[[Any], str]) -> Callable[[Any], str]:
    def call(value: Any = "") -> str:
        measure(value, MAX_VALUE)
        result = build(value)
        _charge(len(result))
        return result

    call.__name__ = build.__name__
    return call


def guarded_sum(values: Iterable[Any], start: Any = 0) -> Any:
    """`sum` of numbers only: adding lists or tuples copies them again and again."""
    if not isinstance(start, int | float | complex):
        raise ScriptTooLarge("sum() в сценариях складывает только числа.")
    return sum(values, start)


def builtins_overrides() -> dict[str, Any]:
    """Builtins that replace the sandbox's own: copies are counted, text is measured."""
    return {
        "pow": guarded_pow,
        "sum": guarded_sum,
        "str": _as_text(str),
        "repr": _as_text(repr),
        "list": _counted(list),
        "tuple": _counted(tuple),
        "set": _counted(set),
        "frozenset": _counted(frozenset),
        "dict": _counted(dict),
        "sorted": _counted(sorted),
    }


def _padding(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(width: int, *rest: Any) -> Any:
        if isinstance(width, int):
            _charge(max(int(width), 0))
        return method(width, *rest)

    return call


def _guarded_method(obj: Any, name: str, method: Any) -> Any:
    """Methods that build a large value from small arguments, checked before they run."""
    if isinstance(obj, str | bytes | bytearray):
        if name in {"ljust", "rjust", "center", "zfill"}:
            return _padding(method)
        if name == "expandtabs":

            def expandtabs(tabsize: int = 8) -> Any:
                tabs = obj.count("\t") if isinstance(obj, str) else obj.count(b"\t")
                _charge(len(obj) + tabs * max(int(tabsize), 0))
                return method(tabsize)

            return expandtabs
        if name == "replace":

            def replace(old: Any, new: Any, count: int = -1) -> Any:
                hits = len(obj) + 1 if not old else obj.count(old)
                if count >= 0:
                    hits = min(hits, count)
                _charge(len(obj) + hits * max(len(new) - len(old), 0))
                return method(old, new, count)

            return replace
        if name == "join":

            def join(items: Iterable[Any]) -> Any:
                parts = list(items)
                _charge(sum(len(p) for p in parts if hasattr(p, "__len__")) + len(obj) * len(parts))
                return method(parts)

            return join
        if name == "translate":

            def translate(table: Any, *rest: Any) -> Any:
                longest = 1
                if isinstance(table, dict):
                    longest = max(
                        [len(v) for v in table.values() if isinstance(v, str | bytes)] + [1]
                    )
                _charge(len(obj) * longest)
                return method(table, *rest)

            return translate
    if isinstance(obj, list) and name == "extend":

        def extend(items: Iterable[Any]) -> None:
            if hasattr(items, "__len__"):
                _charge(len(items))  # type: ignore[arg-type]
            method(items)
            _charge(len(obj))

        return extend
    if isinstance(obj, list | dict | set) and name == "copy":
        return _counted(method)
    if isinstance(obj, int) and name == "to_bytes":

        def to_bytes(length: int = 1, *rest: Any, **kwargs: Any) -> bytes:
            _charge(int(length))
            return bytes(method(length, *rest, **kwargs))

        return to_bytes
    return method


def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    """RestrictedPython's safer_getattr, with the value-building methods guarded."""
    return _guarded_method(obj, name, safer_getattr(obj, name, default))


def measure(value: Any, limit: int, shared: bool = False) -> int:
    """Size of a value in items and characters (see `measure_steps`)."""
    return measure_steps(value, limit, shared)[0]


_CONTAINERS = (list, tuple, set, frozenset, dict)


def _too_much_data(limit: int) -> ScriptTooLarge:
    return ScriptTooLarge(
        "Сценарий остановлен: данные процесса превысили бы допустимый объём "
        f"({_n(limit)} элементов и символов)."
    )


def _children(item: Any) -> list[Any]:
    if isinstance(item, dict):
        return [*item.keys(), *item.values()]
    return list(item)


def _leaf_size(item: Any) -> int:
    return len(item) + 1 if isinstance(item, str | bytes | bytearray) else 1


def measure_steps(value: Any, limit: int, shared: bool = False) -> tuple[int, int]:
    """Size in items and characters and the objects visited; ScriptTooLarge past `limit`.

    `shared=True` counts what is held in memory (a value reachable twice once).
    `shared=False` counts a value reachable twice twice, as JSON would store it; sizes of
    containers are memoised, so `a = [a, a]` thirty times costs thirty steps, not 2**30.
    """
    if not shared:
        return _expanded_size(value, limit)
    total = steps = 0
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        steps += 1
        if isinstance(item, _CONTAINERS):
            if id(item) in seen:
                continue
            seen.add(id(item))
            total += len(item) + 1
            if total <= limit:
                stack.extend(_children(item))
        else:
            total += _leaf_size(item)
        if total > limit:
            raise _too_much_data(limit)
    return total, steps


def _expanded_size(value: Any, limit: int) -> tuple[int, int]:
    """Post-order walk with a size per container id; a cycle can never be stored."""
    if not isinstance(value, _CONTAINERS):
        size = _leaf_size(value)
        if size > limit:
            raise _too_much_data(limit)
        return size, 1
    sizes: dict[int, int] = {}
    open_ids: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    steps = 0
    while stack:
        item, done = stack.pop()
        key = id(item)
        if done:
            open_ids.discard(key)
            children = _children(item)
            size = (
                len(item)
                + 1
                + sum(
                    sizes[id(c)] if isinstance(c, _CONTAINERS) else _leaf_size(c) for c in children
                )
            )
            if size > limit:
                raise _too_much_data(limit)
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_ids:
            raise ScriptTooLarge("Сценарий остановлен: данные ссылаются сами на себя.")
        open_ids.add(key)
        stack.append((item, True))
        for child in _children(item):
            steps += 1
            if isinstance(child, _CONTAINERS) and id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(value)], steps


_BINOP_GUARDS = {
    ast.Mult: "_mul_",
    ast.Add: "_add_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}


def guard_names() -> dict[str, Any]:
    """The guard functions the transformed code calls, for the run's globals."""
    return {
        "_mul_": guarded_mul,
        "_add_": guarded_add,
        "_pow_": guarded_pow,
        "_lshift_": guarded_lshift,
        "_mod_": guarded_mod,
        "_format_": guarded_format,
        "_star_": guarded_star,
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
    }


def _call(name: str, args: list[ast.expr], where: Any) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, where)
    return node


class LimitingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy plus calls to the size guards around value-building syntax."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        value = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        new = ast.FormattedValue(value=value, conversion=-1, format_spec=None)
        copy_locations(new, node)
        return new

    def visit_Starred(self, node: ast.Starred) -> Any:
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call("_star_", [node.value], node)
        return node


_STATIC_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Mult: guarded_mul,
    ast.Add: guarded_add,
    ast.Pow: guarded_pow,
    ast.LShift: guarded_lshift,
    ast.Sub: lambda a, b: a - b,
}
_UNKNOWN = object()


def _static_value(node: ast.AST) -> Any:
    """The value of an expression made of literals only, or _UNKNOWN (guards raise)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | str | bytes):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _static_value(node.operand)
        if isinstance(operand, int):
            return -operand if isinstance(node.op, ast.USub) else operand
        return _UNKNOWN
    if isinstance(node, ast.List | ast.Tuple) and len(node.elts) <= 100:
        items = [_static_value(e) for e in node.elts]
        if any(i is _UNKNOWN for i in items):
            return _UNKNOWN
        return list(items) if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.BinOp) and type(node.op) in _STATIC_OPS:
        left = _static_value(node.left)
        right = _static_value(node.right)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        try:
            return _STATIC_OPS[type(node.op)](left, right)
        except ScriptTooLarge:
            raise
        except Exception:  # noqa: BLE001 - a type error in literals is the run time's business
            return _UNKNOWN
    return _UNKNOWN


def static_size_problem(tree: ast.AST) -> str | None:
    """The first literal expression that is certain to be too large, as a Russian message.

    Only outermost operations are evaluated (each literal once), and an expression nested too
    deeply to evaluate is left to the compiler and the run-time guards.
    """
    inner = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        for child in ast.iter_child_nodes(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and id(node) not in inner:
            try:
                _static_value(node)
            except ScriptTooLarge as exc:
                return f"Строка {node.lineno}: {exc}".replace("Сценарий остановлен: ", "")
            except RecursionError:
                continue
    return None
