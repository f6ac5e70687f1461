"""Memory bombs in the script sandbox: refused at compile time when the literals already say
so, stopped at run time with a Russian message otherwise, and ordinary scripts unaffected."""

from __future__ import annotations

import resource
import sys
from typing import Any

import pytest

from app.engine import ScriptBudgetExceeded, ScriptError, ScriptRefused, script_limits, scripting

STATIC_BOMBS = {
    "list_times_billion": "x = [0] * 10**9",
    "string_times_ten_billion": "x = 'x' * 10**10",
    "power_tower": "x = 10**10**8",
    "shift": "x = 1 << 10**10",
    "tuple_product": "x = (1, 2) * 10**6",
    "inside_function": "def grow():\n    return 'ab' * (10**6 * 10**3)\ny = 1",
    "inside_condition": "x = 1 if flag else 'x' * 10**10",
}

RUNTIME_BOMBS = {
    "list_times_variable": "n = 10\nx = [0] * n**9",
    "string_times_variable": "n = 10**10\nx = 'x' * n",
    "power_from_variable": "n = 10**8\nx = 10**n",
    "builtin_pow": "x = pow(10, 10**8)",
    "squaring_loop": "x = 3\nfor i in range(40):\n    x = x * x",
    "nested_comprehension": "x = [[0] * 1000 for i in range(100000) for j in range(100000)]",
    "big_list_of_ranges": "x = [list(range(100000)) for i in range(100000)]",
    "join": "s = 'x' * 900000\nx = ''.join([s] * 1000)",
    "ljust": "n = 10\nx = 'a'.ljust(n**10)",
    "zfill": "n = 10\nx = '1'.zfill(n**10)",
    "replace": "s = 'x' * 100000\nx = s.replace('x', s)",
    "expandtabs": "s = '\\t' * 1000\nx = s.expandtabs(10**7)",
    "translate": "s = 'x' * 100000\nx = s.translate({120: 'y' * 100000})",
    "doubling_string": "s = 'x'\nfor i in range(64):\n    s = s + s",
    "doubling_list_in_place": "a = [0]\nfor i in range(64):\n    a += a",
    "doubling_by_extend": "a = [0]\nfor i in range(64):\n    a.extend(a)",
    "doubling_by_star": "a = [0] * 500000\nfor i in range(30):\n    a = [*a, *a]",
    "keep_every_version": (
        "k = []\ns = ''\nfor i in range(100000):\n    k.append(s)\n    s += 'xxxxxxxxxx'"
    ),
    "shared_structure": "a = [0]\nfor i in range(60):\n    a = [a, a]",
    "shared_structure_to_text": "a = [0]\nfor i in range(40):\n    a = [a, a]\nx = str(a)",
    "fstring_width": "n = 10**9\nx = f'{1:>{n}}'",
    "percent_width": "w = '%' + '1000000000' + 'd'\nx = w % 1",
    "percent_star": "x = '%*d' % (10**9, 1)",
    "percent_named_width": "w = '%(a)' + '1000000000d'\nx = w % {'a': 1}",
    "to_bytes": "n = 10**10\nx = (1).to_bytes(n, 'big')",
    "sum_of_lists": "x = sum([[0] * 1000] * 1000, [])",
    "slices_kept": "a = [0] * 1000000\nk = []\nfor i in range(1000):\n    k.append(a[:])",
    "list_copies": "a = [0] * 1000000\nk = []\nfor i in range(1000):\n    k.append(list(a))",
    "recursion": "def f(n):\n    return f(n + 1)\nx = f(0)",
}


@pytest.mark.parametrize("name", sorted(STATIC_BOMBS))
def test_obvious_memory_bombs_are_refused_when_compiled(name: str) -> None:
    with pytest.raises(ScriptRefused, match="слишком большое значение"):
        scripting.compile_script(STATIC_BOMBS[name])


@pytest.mark.parametrize("name", sorted(RUNTIME_BOMBS))
def test_memory_bombs_are_stopped_at_run_time(name: str) -> None:
    source = RUNTIME_BOMBS[name]
    scripting.compile_script(source)  # nothing in the literals alone gives it away
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data: dict[str, Any] = {"flag": True}
    with pytest.raises(ScriptBudgetExceeded) as caught:
        scripting.execute(source, data)
    message = str(caught.value)
    assert any(word in message for word in ("Сценари", "sum()", "Ширина")), message
    assert data == {"flag": True}, "a stopped script leaves the data as it was"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 400, f"the peak memory grew by {grown_mb:.0f} MB"


@pytest.mark.parametrize(
    "source",
    [
        "x = -(10**10**8)",
        "x = ([0] * 10**9, 1)",
        "x = [[0] * 10**9]",
        "x = 3 + [0] * 10**9",
    ],
)
def test_bombs_inside_other_literals_are_found(source: str) -> None:
    with pytest.raises(ScriptRefused, match="слишком большое значение"):
        scripting.compile_script(source)


def test_an_expression_too_deep_to_parse_is_refused_not_a_crash() -> None:
    with pytest.raises(ScriptRefused, match="слишком глубоко"):
        scripting.compile_script("x = " + "+".join(["1"] * 5000))
    with pytest.raises(ScriptError):  # the parser's own limit: a syntax error
        scripting.compile_script("x = " + "(" * 300 + "1" + ")" * 300)
    scripting.compile_script("x = " + "+".join(["1"] * 200))  # long, but fine


def test_expressions_are_guarded_too() -> None:
    with pytest.raises(ScriptRefused):
        scripting.compile_expression("'x' * 10**10 == ''")
    with pytest.raises(ScriptBudgetExceeded):
        scripting.evaluate("len('x' * n) > 0", {"n": 10**10})


def test_the_result_written_back_is_measured_as_stored() -> None:
    """A structure that shares itself is small in memory but enormous as JSON."""
    data: dict[str, Any] = {}
    with pytest.raises(ScriptBudgetExceeded, match="данные процесса"):
        scripting.execute("a = [0]\nfor i in range(30):\n    a = [a, a]", data)
    assert data == {}


def test_data_that_refers_to_itself_is_never_written_back() -> None:
    data: dict[str, Any] = {}
    with pytest.raises(ScriptBudgetExceeded, match="сами на себя"):
        scripting.execute("loop = [1]\nloop.append(loop)", data)
    assert data == {}


def test_a_shared_structure_is_measured_without_expanding_it() -> None:
    """2**60 leaves as JSON: refused at once, not after walking a fraction of them."""
    with pytest.raises(script_limits.ScriptTooLarge):
        script_limits.measure(_doubled(60), script_limits.MAX_GROWTH)
    assert script_limits.measure_steps(_doubled(60), sys.maxsize)[1] < 200


def _doubled(times: int) -> list[Any]:
    value: list[Any] = [0]
    for _ in range(times):
        value = [value, value]
    return value


def test_large_existing_data_does_not_count_against_the_script() -> None:
    big = ["строка данных формы"] * 300_000  # about 6 million characters in the task data
    data: dict[str, Any] = {"rows": big}
    scripting.execute("n = len(rows)\nfirst = rows[0]", data)
    assert data["n"] == 300_000 and data["first"] == big[0]


def test_ordinary_scripts_still_work() -> None:
    data: dict[str, Any] = {"items": [3, 1, 2], "name": "Иванова"}
    scripting.execute(
        "total = sum(items)\n"
        "ordered = sorted(items)\n"
        "line = '-' * 40\n"
        "title = f'{name!r:>12}: {total:05d}'\n"
        "code = '%s-%03d' % (name, total)\n"
        "text = ''\n"
        "for i in range(5000):\n"
        "    text += 'ab'\n"
        "numbers = list(range(100000))\n"
        "padded = name.ljust(20, '.')\n"
        "joined = ', '.join([str(i) for i in items])\n"
        "big = 2**1000\n"
        "merged = [*items, *ordered]\n"
        "part = numbers[10:20]\n",
        data,
    )
    assert data["total"] == 6 and data["ordered"] == [1, 2, 3]
    assert data["line"] == "-" * 40
    assert data["title"] == "   'Иванова': 00006"
    assert data["code"] == "Иванова-006"
    assert len(data["text"]) == 10_000
    assert len(data["numbers"]) == 100_000
    assert data["padded"] == "Иванова............."
    assert data["joined"] == "3, 1, 2"
    assert data["big"] == 2**1000
    assert data["merged"] == [3, 1, 2, 1, 2, 3]
    assert data["part"] == list(range(10, 20))


def test_the_limits_are_what_the_messages_say() -> None:
    scripting.execute(f"x = 'x' * {script_limits.MAX_VALUE}", {})
    with pytest.raises(ScriptError, match="1\u00a0000\u00a0000"):
        scripting.execute(f"n = {script_limits.MAX_VALUE + 1}\nx = 'x' * n", {})


def test_escape_corpus_is_still_refused() -> None:
    for source in (
        "import os",
        "x = ().__class__.__bases__[0].__subclasses__()",
        "x = getattr(items, '__class__')",
        "x = '{0.__class__}'.format(1)",
        "x = f'{items.__class__}'",
        "x = [*().__class__.__mro__]",
    ):
        with pytest.raises((ScriptError, NotImplementedError, AttributeError)):
            scripting.execute(source, {"items": []})
