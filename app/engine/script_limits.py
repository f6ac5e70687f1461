"""Memory limits of the script sandbox: guarded operators, builtins and methods.

The line and time budget cannot stop a single operation that builds a huge value in one C
call (`[0] * 10**9`, `10**10**8`, `'x'.ljust(10**10)`), so every such operation is checked
*before* it runs: one value may hold at most MAX_VALUE items or characters and an integer at
most MAX_INT_BITS bits. Larger values built step by step are caught by two running totals:
the data a run has allocated through those operations (MAX_ALLOCATED) and the data its
variables hold, measured every few thousand lines (MAX_GROWTH over what the run started with).
Comparisons, hashing, sorting and `in` are bounded the same way before they run (MAX_COMPARE,
see "Comparing and hashing" below): they walk a value whose parts are shared as often as
they are reachable, which the line budget could not interrupt either.
"""

from __future__ import annotations

import ast
import operator
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
    if type(index) not in _FLAT and type(index) is not slice:
        compare_units(index)
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
        "set": _hashed(set),
        "frozenset": _hashed(frozenset),
        "dict": guarded_dict,
        "sorted": guarded_sorted,
        "min": _extreme(min),
        "max": _extreme(max),
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
    compares = _comparing_method(obj, name, method)
    if compares is not None:
        return compares
    if isinstance(obj, list | dict | set) and name == "copy":
        return _counted(method)
    if isinstance(obj, int) and name == "to_bytes":

        def to_bytes(length: int = 1, *rest: Any, **kwargs: Any) -> bytes:
            _charge(int(length))
            return bytes(method(length, *rest, **kwargs))

        return to_bytes
    return method


_ONE_KEY = {"get", "pop", "setdefault", "add", "remove", "discard"}
_SET_WITH_OTHERS = {
    "update",
    "union",
    "intersection",
    "difference",
    "symmetric_difference",
    "intersection_update",
    "difference_update",
    "symmetric_difference_update",
    "issubset",
    "issuperset",
    "isdisjoint",
}


def _measured_other(other: Any) -> Any:
    """An argument of a set method: a container is measured, an iterator read and measured."""
    if isinstance(other, set | frozenset | dict | _DICT_VIEWS[0] | _DICT_VIEWS[2]):
        compare_units(other)
        return other
    return _hash_many(list(other))


def _comparing_method(obj: Any, name: str, method: Any) -> Any:
    """Methods that compare or hash their arguments against the items of `obj`, or None."""
    if isinstance(obj, list | tuple) and name in {"count", "index", "remove"}:

        def search(value: Any, *rest: Any) -> Any:
            if type(value) not in _FLAT_NO_TEXT and len(obj) * compare_units(value) > MAX_COMPARE:
                compare_units(obj)  # each item costs at most what `value` does
            return method(value, *rest)

        return search
    if isinstance(obj, list) and name == "sort":

        def sort(*, key: Any = None, reverse: bool = False) -> None:
            if key is None:
                compare_units(obj)
            method(key=_keyed(key), reverse=reverse)

        return sort
    if isinstance(obj, dict) and name in _ONE_KEY:

        def one_key(key: Any, *rest: Any) -> Any:
            return method(guarded_key(key), *rest)

        return one_key
    if isinstance(obj, dict) and name == "update":

        def update(*args: Any, **kwargs: Any) -> None:
            if args:  # each new key is compared at most with the key it equals
                args = (_pairs_keys(args[0]), *args[1:])
            method(*args, **kwargs)

        return update
    if isinstance(obj, dict) and name == "fromkeys":

        def fromkeys(keys: Iterable[Any], *rest: Any) -> Any:
            return method(_hash_many(list(keys)), *rest)

        return fromkeys
    if isinstance(obj, set | frozenset) and name in _ONE_KEY:

        def set_one(key: Any) -> Any:
            return method(guarded_key(key))

        return set_one
    if isinstance(obj, set | frozenset | _DICT_VIEWS[0] | _DICT_VIEWS[2]) and (
        name in _SET_WITH_OTHERS
    ):

        def with_others(*others: Any) -> Any:
            # Each item of the others is looked up in `obj` (or the other way round, one
            # lookup per item of the smaller): what the others hold bounds the comparisons.
            return method(*[_measured_other(other) for other in others])

        return with_others
    return None


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
    ast.BitOr: "_or_",
    ast.BitAnd: "_and_",
    ast.BitXor: "_xor_",
    ast.Sub: "_sub_",
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
        "_compare_": guarded_compare,
        "_cmp_": guarded_compared,
        "_in_": guarded_container,
        "_key_": guarded_key,
        "_keys_": guarded_keys,
        "_or_": guarded_or,
        "_and_": guarded_and,
        "_xor_": guarded_xor,
        "_sub_": guarded_sub,
    }


def _call(name: str, args: list[ast.expr], where: Any) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, where)
    return node


_SET_OPS = (ast.BitOr, ast.BitAnd, ast.BitXor, ast.Sub)
_COMPARE_CODES = {
    ast.Eq: 0,
    ast.NotEq: 1,
    ast.Lt: 2,
    ast.LtE: 3,
    ast.Gt: 4,
    ast.GtE: 5,
    ast.In: 6,
    ast.NotIn: 7,
}


def _literal(node: ast.expr) -> bool:
    """A constant, or a short tuple/list/set of constants: nothing to measure."""
    if isinstance(node, ast.Constant):
        return True
    return (
        isinstance(node, ast.Tuple | ast.List | ast.Set)
        and len(node.elts) <= 64
        and all(isinstance(e, ast.Constant) for e in node.elts)
    )


def _hashed_element(node: ast.expr) -> ast.expr:
    """A set item or dict key wrapped in the hash guard (a literal needs none)."""
    if isinstance(node, ast.Constant):
        return node
    if isinstance(node, ast.Starred):
        node.value = _call("_keys_", [node.value], node)
        return node
    return _call("_key_", [node], node)


class LimitingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy plus calls to the size guards around value-building syntax."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        if isinstance(node.op, _SET_OPS) and (
            isinstance(node.left, ast.Constant) or isinstance(node.right, ast.Constant)
        ):
            return node  # `n - 1`: a constant is never a set
        return _call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        value = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        new = ast.FormattedValue(value=value, conversion=-1, format_spec=None)
        copy_locations(new, node)
        return new

    def visit_Compare(self, node: ast.Compare) -> Any:
        """Every operand of a comparison is measured; the right side of `in` is a container."""
        node = self.node_contents_visit(node)
        if len(node.ops) == 1:
            op = node.ops[0]
            if isinstance(op, ast.Is | ast.IsNot) or _literal(node.left):
                return node
            if _literal(node.comparators[0]):
                return node  # a literal bounds the work: `x == 5`, `x in ('a', 'b')`
            code = _COMPARE_CODES[type(op)]
            return _call("_compare_", [node.left, node.comparators[0], ast.Constant(code)], node)
        operands = [node.left, *node.comparators]
        guarded = []
        for index, operand in enumerate(operands):
            around = node.ops[max(index - 1, 0) : index + 1]
            if all(isinstance(op, ast.Is | ast.IsNot) for op in around) or _literal(operand):
                guarded.append(operand)
            elif index and isinstance(node.ops[index - 1], ast.In | ast.NotIn):
                guarded.append(_call("_in_", [operand], operand))
            else:
                guarded.append(_call("_cmp_", [operand], operand))
        node.left, node.comparators = guarded[0], guarded[1:]
        return node

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        """`d[key] = v` and `del d[key]` hash the key (reading goes through `_getitem_`)."""
        new = super().visit_Subscript(node)
        if (
            isinstance(new, ast.Subscript)
            and isinstance(new.ctx, ast.Store | ast.Del)
            and not isinstance(new.slice, ast.Constant | ast.Slice)
        ):
            new.slice = _call("_key_", [new.slice], new.slice)
        return new

    def visit_Set(self, node: ast.Set) -> Any:
        node = self.node_contents_visit(node)
        node.elts = [_hashed_element(e) for e in node.elts]
        return node

    def visit_Dict(self, node: ast.Dict) -> Any:
        node = self.node_contents_visit(node)
        keys: list[ast.expr | None] = []
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:  # {**value}
                keys.append(None)
                node.values[len(keys) - 1] = _call("_keys_", [value], value)
            else:
                keys.append(_hashed_element(key))
        node.keys = keys
        return node

    def visit_SetComp(self, node: ast.SetComp) -> Any:
        new = super().visit_SetComp(node)
        if isinstance(new, ast.SetComp):
            new.elt = _hashed_element(new.elt)
        return new

    def visit_DictComp(self, node: ast.DictComp) -> Any:
        new = super().visit_DictComp(node)
        if isinstance(new, ast.DictComp):
            new.key = _hashed_element(new.key)
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


# --- Comparing and hashing -------------------------------------------------------------
#
# Comparing, hashing, sorting and `in` walk nested containers in one C call that the line
# budget cannot interrupt, and they walk a value shared twice twice: `a = [a, a]` forty times
# is 41 lists in memory but 2**40 comparisons. So every value such a call can reach is
# measured first, expanded (as `==` and `hash` will see it) and memoised by identity (so
# the measure itself costs what the value holds in memory): at most MAX_COMPARE units, one
# per item and per 16 characters of text. That bounds every single comparison or hash to
# about a tenth of a second; sorting and set building are bounded by MAX_COMPARE times the
# logarithm of the number of items.

MAX_COMPARE = 2_000_000  # units (items, 16 characters of text) one comparison may walk
_TEXT_UNIT = 16
_FLAT = frozenset({int, float, bool, type(None), str, bytes, complex})
_FLAT_NO_TEXT = frozenset({int, float, bool, type(None), complex})
_DICT_VIEWS: tuple[type, type, type] = (type({}.keys()), type({}.values()), type({}.items()))
_COMPARED = (*_CONTAINERS, *_DICT_VIEWS)
_SEQUENCES = frozenset({list, tuple, set, frozenset})
_HASHED = frozenset({set, frozenset, dict})
_SEARCHED = frozenset({list, tuple})
_LOOKED_UP = frozenset({set, frozenset, dict, range, _DICT_VIEWS[0]})
_WALKED = (*_CONTAINERS, slice)


def _too_costly(units: int | None = None) -> ScriptTooLarge:
    size = f" (более {_n(units)} элементов)" if units else ""
    return ScriptTooLarge(
        "Сценарий остановлен: сравнение, поиск или сортировка данных"
        f"{size} заняли бы слишком много времени. Возможно, одни и те же части данных "
        "вложены друг в друга много раз."
    )


def _unit(item: Any) -> int:
    if isinstance(item, str | bytes | bytearray):
        return 1 + len(item) // _TEXT_UNIT
    return 1


def _flat_units(item: Any) -> int | None:
    """Units of a container of scalars, computed in C; None if it nests containers."""
    values = item.values() if isinstance(item, dict) else item
    types = set(map(type, values))
    if isinstance(item, dict):
        types.update(map(type, item))
    if not types <= _FLAT:
        return None
    units = len(item) * (2 if isinstance(item, dict) else 1) + 1
    if str in types or bytes in types:
        if types - {str, bytes}:
            return None
        text = sum(map(len, values)) + (sum(map(len, item)) if isinstance(item, dict) else 0)
        units += text // _TEXT_UNIT
    return units


def compare_units(value: Any, limit: int = MAX_COMPARE) -> int:
    """How much a comparison or hash of `value` may walk; ScriptTooLarge past `limit`."""
    if type(value) in _FLAT:
        return _unit(value)
    if isinstance(value, _DICT_VIEWS):
        value = list(value)  # type: ignore[call-overload]
    if isinstance(value, slice):
        value = (value.start, value.stop, value.step)
    if not isinstance(value, _CONTAINERS):
        return 1
    if len(value) > MAX_CLASHES and type(value) in _HASHED:
        _no_hash_flood(list(value))  # a set built key by key in a loop, then merged
    units: int | None
    if type(value) in _SEQUENCES and set(map(type, value)) <= _FLAT_NO_TEXT:
        units = len(value) + 1  # numbers only: no further call
    else:
        units = _flat_units(value)  # most data: one container of numbers and strings
    if units is not None:
        if units > limit:
            raise _too_costly(limit)
        return units
    sizes: dict[int, int] = {}
    open_ids: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, done = stack.pop()
        key = id(item)
        if done:
            open_ids.discard(key)
            parts = _compared_parts(item)
            size = len(parts) + 1
            for child in parts:
                size += sizes[id(child)] if isinstance(child, _WALKED) else _unit(child)
            if size > limit:
                raise _too_costly(limit)
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_ids:  # each turn of a loop would compare its contents again
            raise ScriptTooLarge(
                "Сценарий остановлен: данные ссылаются сами на себя, их нельзя сравнивать."
            )
        open_ids.add(key)
        stack.append((item, True))
        for child in _compared_parts(item):
            if isinstance(child, _WALKED) and id(child) not in sizes:
                stack.append((child, False))
    return sizes.get(id(value), 1)


def _compared_parts(item: Any) -> list[Any]:
    if isinstance(item, slice):  # slices compare as (start, stop, step)
        return [item.start, item.stop, item.step]
    return _children(item)


def guarded_compared(value: Any) -> Any:
    """An operand of `==`, `<`, `in` …: returned as is once it is cheap enough to compare."""
    if type(value) in _FLAT:
        return value
    compare_units(value)
    return value


def _checked_items(items: Iterable[Any]) -> Iterable[Any]:
    total = 0
    for item in items:
        if type(item) not in _FLAT:
            total += compare_units(item)
            if total > MAX_COMPARE:
                raise _too_costly(MAX_COMPARE)
        yield item


def guarded_container(value: Any) -> Any:
    """The right side of `in`: an iterator is checked item by item as `in` consumes it."""
    kind = type(value)
    if kind in _FLAT or kind in _LOOKED_UP:
        return value  # a lookup hashes the left side, which is measured on its own
    if isinstance(value, _COMPARED):
        compare_units(value)
        return value
    return _checked_items(value)


_COMPARE_OPS: tuple[Callable[[Any, Any], Any], ...] = (
    operator.eq,
    operator.ne,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
)


def guarded_compare(a: Any, b: Any, code: int) -> Any:
    """`a <op> b` for one comparison operator (code: see _COMPARE_CODES).

    A number, a string or None on one side keeps the work small (at most one string's
    characters per item), so only two containers, or a string searched among containers,
    are measured.
    """
    if code < 6:
        if type(a) not in _FLAT and type(b) not in _FLAT:
            _either_cheap(a, b)
        return _COMPARE_OPS[code](a, b)
    kind = type(a)
    if kind not in _FLAT_NO_TEXT and type(b) not in _FLAT and type(b) is not range:
        units = 1 + len(a) // _TEXT_UNIT if kind is str else compare_units(a)
        if type(b) in _SEARCHED:
            if len(b) * units > MAX_COMPARE:  # each item costs at most what `a` does
                compare_units(b)
        elif type(b) not in _LOOKED_UP:  # a set or dict: one lookup, as costly as `a`
            b = guarded_container(b)
    found = a in b
    return not found if code == 7 else found


def _either_cheap(a: Any, b: Any) -> None:
    """Two values compared walk both only as far as the smaller goes: one must be cheap."""
    if isinstance(a, _CONTAINERS) and isinstance(b, _CONTAINERS) and len(a) > len(b):
        a, b = b, a
    try:
        compare_units(a)
    except ScriptTooLarge:
        compare_units(b)


def guarded_key(key: Any) -> Any:
    """A value about to be hashed (a dict key, a set item): a tuple is hashed item by item."""
    if type(key) in _FLAT:
        return key
    compare_units(key)
    return key


def _set_operation(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`|`, `&`, `^`, `-`: on sets and on `.items()` they hash and compare the items."""

    def call(a: Any, b: Any) -> Any:
        if type(a) not in _FLAT:
            compare_units(a)
            compare_units(b)
        return op(a, b)

    return call


guarded_or = _set_operation(operator.or_)
guarded_and = _set_operation(operator.and_)
guarded_xor = _set_operation(operator.xor)
guarded_sub = _set_operation(operator.sub)


def guarded_keys(value: Any) -> Any:
    """`{*value}` or `{**value}`: what will be hashed is measured first."""
    if isinstance(value, dict):
        _hash_many(list(value))
        return value
    return _hash_many(list(value))


MAX_CLASHES = 2_000  # distinct items with one hash that a set or dict may take in one call


def _hash_many(items: list[Any]) -> list[Any]:
    """Items about to be put into a set or used as dict keys, checked together."""
    if not set(map(type, items)) <= _FLAT:
        total = 0
        for item in items:
            if type(item) not in _FLAT:
                total += compare_units(item)
                if total > MAX_COMPARE:
                    raise _too_costly(MAX_COMPARE)
    if len(items) > MAX_CLASHES:
        _no_hash_flood(items)
    return items


def _no_hash_flood(items: list[Any]) -> None:
    """Refuse many distinct items that share a hash: numbers and tuples hash predictably,
    `k * (2**61 - 1)` all hash to 0, and a set of n of them costs n**2 / 2 comparisons in one
    C call (30 000 of them: eight seconds). Strings hash with a random key and never clash."""
    if len(set(map(hash, items))) == len(set(map(id, items))):
        return  # as many hashes as objects: no two distinct objects clash
    first: dict[int, Any] = {}
    clashes = 0
    for item in items:
        seen = first.setdefault(hash(item), item)
        if seen is not item and seen != item:
            clashes += 1
            if clashes > MAX_CLASHES:
                raise ScriptTooLarge(
                    "Сценарий остановлен: в множество или словарь попадает слишком много "
                    f"разных значений с одинаковым хешем (более {_n(MAX_CLASHES)})."
                )


def _keyed(key: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """A sort key whose results are measured together (sorting compares them)."""
    if key is None:
        return None
    total = [0]

    def measured(item: Any) -> Any:
        result = key(item)
        if type(result) not in _FLAT:
            total[0] += compare_units(result)
            if total[0] > MAX_COMPARE:
                raise _too_costly(MAX_COMPARE)
        return result

    return measured


def guarded_sorted(iterable: Iterable[Any], /, *, key: Any = None, reverse: bool = False) -> Any:
    items = list(iterable)
    _charge(len(items))
    if key is None:
        compare_units(items)
    return sorted(items, key=_keyed(key), reverse=reverse)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        items = list(args[0]) if len(args) == 1 else list(args)
        if "key" in kwargs:
            kwargs["key"] = _keyed(kwargs["key"])
        else:
            compare_units(items)
        return pick(items, **kwargs)

    call.__name__ = pick.__name__
    return call


def _hashed(build: Callable[..., Any]) -> Callable[..., Any]:
    """set(), frozenset(): the items are measured before they are hashed."""

    def call(*args: Any) -> Any:
        if args and not isinstance(args[0], set | frozenset | str | bytes | range):
            args = (_hash_many(list(args[0])), *args[1:])  # a set is copied as it is
        result = build(*args)
        _charge(len(result))
        return result

    call.__name__ = build.__name__
    return call


def _pairs_keys(source: Any) -> list[Any]:
    """The keys of dict(source)/update(source) when source is not a dict, checked; the pairs."""
    if isinstance(source, dict):
        _hash_many(list(source))  # measured as keys; their hashes are kept
        return source  # type: ignore[return-value]
    pairs = list(source)
    _hash_many([p[0] for p in pairs if isinstance(p, tuple | list) and len(p) == 2])
    return pairs


def guarded_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    result = dict(_pairs_keys(args[0]), *args[1:], **kwargs) if args else dict(**kwargs)
    _charge(len(result))
    return result
