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


# --- Comparing and hashing values that share their parts --------------------------------
#
# `a = [a, a]` forty times is 41 lists in memory but 2**40 items to `==`, `hash`, `sorted`
# or `in`, spent inside one C call that the line budget cannot interrupt. Every case below
# took longer than any test may wait before the guards; they run in a child process with a
# timeout, so a regression fails the test instead of hanging it.

_LISTS = "a = [0]\nb = [0]\nfor i in range(40):\n    a = [a, a]\n    b = [b, b]\n"
_TUPLES = "a = (0,)\nb = (0,)\nfor i in range(40):\n    a = (a, a)\n    b = (b, b)\n"
_TEXTS = "s = 'x' * 1000000\nt = 'x' * 1000000\nL = [s] * 1000000\n"
SHARED_STRUCTURE_ATTACKS = {
    "equal": _LISTS + "x = a == b",
    "not_equal": _LISTS + "x = a != b",
    "less": _LISTS + "x = a < b",
    "chained": _LISTS + "x = 0 < len(a) <= 2 and a <= b",
    "in_list": _LISTS + "x = a in [b]",
    "not_in_list": _LISTS + "x = a not in [b]",
    "in_generator": _LISTS + "x = a in (y for y in [b])",
    "in_map": _LISTS + "x = a in map(list, [b])",
    "in_dict_items": _LISTS + "x = (1, a) in {1: b}.items()",
    "sorted": _LISTS + "x = sorted([a, b])",
    "sorted_by_key": _LISTS + "x = sorted([1, 2], key=lambda i: a if i == 1 else b)",
    "max_of_two": _LISTS + "x = max(a, b)",
    "min_of_list": _LISTS + "x = min([a, b])",
    "list_sort": _LISTS + "c = [a, b]\nc.sort()",
    "list_count": _LISTS + "x = [a].count(b)",
    "list_index": _LISTS + "x = [a, 1].index(b)",
    "list_remove": _LISTS + "c = [a, 1]\nc.remove(b)",
    "tuple_count": _LISTS + "x = (a,).count(b)",
    "dict_equal": _LISTS + "x = {1: a} == {1: b}",
    "dict_items_equal": _LISTS + "x = {1: a}.items() == {1: b}.items()",
    "dict_items_union": _LISTS + "x = {1: a}.items() | {1: b}.items()",
    "dict_items_minus": _LISTS + "x = {1: a}.items() - {1: b}.items()",
    "set_literal": _TUPLES + "x = {a}",
    "set_of_list": _TUPLES + "x = set([a])",
    "set_of_zip": _TUPLES + "x = set(zip([a], [b]))",
    "frozenset": _TUPLES + "x = frozenset([a])",
    "set_unpacked": _TUPLES + "x = {*[a]}",
    "set_comprehension": _TUPLES + "x = {t for t in [a]}",
    "set_add": _TUPLES + "s = set()\ns.add(a)",
    "set_isdisjoint": _TUPLES + "x = {1}.isdisjoint([a])",
    "set_union": _TUPLES + "x = {1}.union([a])",
    "dict_literal_key": _TUPLES + "x = {a: 1}",
    "dict_comprehension": _TUPLES + "x = {t: 1 for t in [a]}",
    "dict_store": _TUPLES + "d = {}\nd[a] = 1",
    "dict_delete": _TUPLES + "d = {}\ndel d[a]",
    "dict_read": _TUPLES + "d = {1: 2}\nx = d[a]",
    "dict_get": _TUPLES + "x = {}.get(a)",
    "dict_in": _TUPLES + "x = a in {1: 2}",
    "dict_of_pairs": _TUPLES + "x = dict([(a, 1)])",
    "dict_fromkeys": _TUPLES + "x = {}.fromkeys([a])",
    "dict_update": _TUPLES + "d = {}\nd.update([(a, 1)])",
    "error_message": _LISTS + "raise ValueError(a)",
    "assert_message": _LISTS + "assert len(a) == 0, a",
    "error_cause": _LISTS
    + "try:\n    raise ValueError(a)\nexcept ValueError:\n    raise KeyError(1)",
    "long_texts_counted": _TEXTS + "x = L.count(t)",
    "long_texts_searched": _TEXTS + "x = t in L",
    "long_texts_compared": _TEXTS + "M = [t] * 1000000\nx = L == M",
    "slices": _LISTS + "x = slice(a) == slice(b)",
    "slices_in_lists": _LISTS + "x = sorted([[slice(a)], [slice(b)]])",
    "loop_around_large_parts": (
        "m = [0]\nn = [0]\nfor i in range(18):\n    m = [m, m]\n    n = [n, n]\n"
        "a = [m]\na.append(a)\nb = [n]\nb.append(b)\nx = a == b"
    ),
    # Numbers hash predictably: all of k * (2**61 - 1) hash to 0, a set of them is quadratic.
    "hash_clash_set": "p = 2**61 - 1\nx = set([i * p for i in range(30000)])",
    "hash_clash_dict": "p = 2**61 - 1\nx = dict([(i * p, 1) for i in range(30000)])",
    "hash_clash_union": "p = 2**61 - 1\nx = {1}.union([i * p for i in range(30000)])",
    "hash_clash_built_in_a_loop": (
        "p = 2**61 - 1\ns = set()\nt = set()\nfor i in range(6000):\n"
        "    s.add(i * p)\n    t.add(-i * p)\nx = s | t"
    ),
}

_CHILD = """
import json, sys
from app.engine import ScriptBudgetExceeded, scripting
for name, source in json.loads(sys.stdin.read()).items():
    data = {}
    try:
        scripting.execute(source, data)
        outcome = "ran"
    except ScriptBudgetExceeded as exc:
        outcome = str(exc)
    except Exception as exc:
        outcome = type(exc).__name__ + ": " + str(exc)
    print(json.dumps([name, outcome, data == {}]), flush=True)
"""


def test_comparing_or_hashing_shared_structures_is_refused_at_once() -> None:
    import json
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    try:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=json.dumps(SHARED_STRUCTURE_ATTACKS),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=root,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        done = [json.loads(line)[0] for line in out.splitlines()]
        stuck = [name for name in SHARED_STRUCTURE_ATTACKS if name not in done]
        pytest.fail(f"still running after 120 s: {stuck[:1]}")
    assert child.returncode == 0, child.stderr[-2000:]
    outcomes = {
        name: (text, untouched)
        for name, text, untouched in map(json.loads, child.stdout.splitlines())
    }
    assert set(outcomes) == set(SHARED_STRUCTURE_ATTACKS)
    for name, (text, untouched) in outcomes.items():
        assert text.startswith("Сценарий остановлен"), (name, text)
        assert any(word in text for word in ("сравнение", "сравнивать", "ошибка", "хеш")), (
            name,
            text,
        )
        assert untouched, name


def test_comparisons_give_the_same_answers_as_python() -> None:
    data: dict[str, Any] = {"rows": [{"n": 1, "tags": ["a"]}, {"n": 2, "tags": []}], "name": "б"}
    scripting.execute(
        "a = [[1, 2], (3, 'x')]\n"
        "b = [[1, 2], (3, 'x')]\n"
        "eq = a == b\n"
        "ne = a != [[1, 2]]\n"
        "lt = [1, [2]] < [1, [3]]\n"
        "chain = 0 < len(a) <= 2 < 3\n"
        "same = a is not b\n"
        "hit = [1, 2] in a\n"
        "miss = 'y' not in a[1]\n"
        "gen = (k for k in [1, 2, 3, 4])\n"
        "found = 2 in gen\n"
        "rest = list(gen)\n"
        "found_list = [2] in ([k] for k in range(5))\n"
        "named = name in {'а': 1, 'б': 2}\n"
        "keyed = sorted(rows, key=lambda r: (len(r['tags']), -r['n']))\n"
        "order = sorted([[2], [1, 5], [1]], reverse=True)\n"
        "top = max(rows, key=lambda r: r['n'])['n']\n"
        "low = min([3, 1, 2])\n"
        "none = max([], default=None)\n"
        "pair = max([1, 2], [1, 3])\n"
        "where = [[1], [2]].index([2])\n"
        "times = [(1, 2), (1, 2), 3].count((1, 2))\n"
        "keys = {(1, 'a'): 1, **{(2, 'b'): 2}}\n"
        "keys[(3, 'c')] = 3\n"
        "del keys[(1, 'a')]\n"
        "got = keys.get((2, 'b'))\n"
        "uniq = sorted(set([(1, 2), (1, 2), (3, 4)]))\n"
        "star = sorted({*[(1,), (1,)], (2,)})\n"
        "comp = sorted({(k, k) for k in range(3)})\n"
        "index = {(k, 'x'): k for k in range(3)}[(2, 'x')]\n"
        "both = sorted({1: 1, 2: 2}.items() & {2: 2}.items())\n"
        "diff = sorted({1, 2, 3} - {2})\n"
        "union = sorted({1} | {2} ^ {3})\n"
        "number = 10 - 3 - 2\n"
        "pairs = dict([((1, 2), 'a')])\n"
        "fk = sorted({}.fromkeys([(1,), (2,)]))\n"
        "rows_copy = [dict(r) for r in rows]\n"
        "rows_equal = rows_copy == rows\n"
        "kinds = len(set([str(i % 7) for i in range(5000)]))\n"
        "numbers = len(set(range(5000)) | set(range(2500, 7500)))\n",
        data,
    )
    assert data["eq"] is True and data["ne"] is True and data["lt"] is True
    assert data["chain"] is True and data["same"] is True
    assert data["hit"] is True and data["miss"] is True
    assert data["found"] is True and data["rest"] == [3, 4], "`in` stops where it found it"
    assert data["found_list"] is True and data["named"] is True
    assert [r["n"] for r in data["keyed"]] == [2, 1]
    assert data["order"] == [[2], [1, 5], [1]]
    assert data["top"] == 2 and data["low"] == 1 and data["none"] is None
    assert data["pair"] == [1, 3] and data["where"] == 1 and data["times"] == 2
    assert data["keys"] == {(2, "b"): 2, (3, "c"): 3} and data["got"] == 2
    assert data["uniq"] == [(1, 2), (3, 4)] and data["star"] == [(1,), (2,)]
    assert data["comp"] == [(0, 0), (1, 1), (2, 2)] and data["index"] == 2
    assert data["diff"] == [1, 3] and data["union"] == [1, 2, 3] and data["number"] == 5
    assert data["pairs"] == {(1, 2): "a"} and data["fk"] == [(1,), (2,)]
    assert data["rows_equal"] is True and data["both"] == [(2, 2)]
    assert data["kinds"] == 7 and data["numbers"] == 7500


def test_a_comparison_just_under_the_limit_is_allowed() -> None:
    """Sharing is not refused as such: only what a comparison would have to walk counts."""
    data: dict[str, Any] = {}
    scripting.execute(
        "a = [0]\nb = [0]\nfor i in range(15):\n    a = [a, a]\n    b = [b, b]\n"
        "same = a == b\nfirst = sorted([b, a])[0] == a\na = 0\nb = 0",
        data,
    )
    assert data["same"] is True and data["first"] is True
    assert script_limits.compare_units(_doubled(15)) < script_limits.MAX_COMPARE
    with pytest.raises(script_limits.ScriptTooLarge, match="сравнение"):
        script_limits.compare_units(_doubled(20))


def test_measuring_what_a_comparison_walks_does_not_expand_it() -> None:
    shared = _doubled(60)
    with pytest.raises(script_limits.ScriptTooLarge):
        script_limits.compare_units(shared)
    assert script_limits.compare_units(["x" * 160, 1, None]) == 4 + 11 + 1 + 1
    assert script_limits.compare_units({"ab": [1, 2]}) == 3 + 1 + 5  # key, value, list
    assert script_limits.compare_units(list(range(1000))) == 1001
