"""Hostile input on the API: XML attacks and sandbox escapes in uploaded diagrams, oversized
bodies, markup in text fields. Every attack is refused with a clear status (never 500) and
changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.factories import mo_plan
from tests.security.helpers import DATA_DIR, counts, parallel_bundle, upload

DESIGNER = "designer"
MO_HEAD = "mo_head.gatchina-school-1"
BPMN_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'id="Defs_evil" targetNamespace="http://bpmn.io/schema/bpmn">'
)
attacks_sent = {"count": 0}


@pytest.fixture()
def api(sapi: ApiClient) -> ApiClient:
    """The module shares one seeded database: every attack asserts it changed nothing."""
    return sapi


def _with_script(script: str) -> bytes:
    """The valid parallel process with a script task between its start and its split."""
    text = (DATA_DIR / "parallel_review.bpmn").read_text(encoding="utf-8")
    escaped = script.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace(
        '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="split" />',
        '<bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="evil" />'
        '<bpmn:sequenceFlow id="f_evil" sourceRef="evil" targetRef="split" />'
        '<bpmn:scriptTask id="evil" name="Сценарий"><bpmn:incoming>f_start</bpmn:incoming>'
        f"<bpmn:outgoing>f_evil</bpmn:outgoing><bpmn:script>{escaped}</bpmn:script>"
        "</bpmn:scriptTask>",
    )
    text = text.replace(
        "<bpmn:incoming>f_start</bpmn:incoming>\n      <bpmn:outgoing>f_council</bpmn:outgoing>",
        "<bpmn:incoming>f_evil</bpmn:incoming>\n      <bpmn:outgoing>f_council</bpmn:outgoing>",
    )
    text = text.replace(
        "<bpmn:flowNodeRef>split</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>split</bpmn:flowNodeRef><bpmn:flowNodeRef>evil</bpmn:flowNodeRef>",
    )
    return text.encode("utf-8")


def _forms() -> list[tuple[str, bytes]]:
    return [(name, content) for name, content in parallel_bundle() if name.endswith(".json")]


def _refused(api: ApiClient, shared: Any, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Upload; assert 422 with a report row, and that nothing was deployed or recorded."""
    api.token(DESIGNER)
    before = counts(shared)
    processes_before = api.get("/processes", DESIGNER).get_json()
    resp = upload(api, DESIGNER, files)
    attacks_sent["count"] += 1
    assert resp.status_code == 422, resp.get_data(as_text=True)[:2000]
    body = resp.get_json()
    assert body["message"] and isinstance(body["errors"], dict)
    assert body["report"], body
    assert all(row["message"] for row in body["report"])
    assert counts(shared) == before
    assert api.get("/processes", DESIGNER).get_json() == processes_before
    return body


def _messages(body: dict[str, Any]) -> str:
    return " ".join(f"{row['element_id']}: {row['message']}" for row in body["report"])


XML_ATTACKS = {
    "xxe_file": BPMN_HEAD.replace(
        "<bpmn:definitions",
        '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<bpmn:definitions',
    )
    + "&xxe;</bpmn:definitions>",
    "xxe_network_dtd": BPMN_HEAD.replace(
        "<bpmn:definitions", '<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">\n<bpmn:definitions'
    )
    + "</bpmn:definitions>",
    "xxe_parameter_entity": BPMN_HEAD.replace(
        "<bpmn:definitions",
        '<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>\n<bpmn:definitions',
    )
    + "</bpmn:definitions>",
    "billion_laughs": BPMN_HEAD.replace(
        "<bpmn:definitions",
        '<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
            for i in range(1, 10)
        )
        + "]>\n<bpmn:definitions",
    )
    + "&lol9;</bpmn:definitions>",
    "entity_after_4k_of_padding": BPMN_HEAD.replace(
        "<bpmn:definitions",
        "<!--" + "x" * 5000 + "-->\n<!DOCTYPE d [<!ENTITY e 'e'>]><bpmn:definitions",
    )
    + "&e;</bpmn:definitions>",
    "deeply_nested_100": BPMN_HEAD + "<a>" * 100 + "</a>" * 100 + "</bpmn:definitions>",
    "deeply_nested_100000": BPMN_HEAD + "<a>" * 100_000 + "</a>" * 100_000 + "</bpmn:definitions>",
    "not_xml": "\x00\x01binary garbage \xff",
    "empty": "",
    "utf16_doctype": None,  # filled below: the DOCTYPE hidden in another encoding
}
XML_ATTACKS["utf16_doctype"] = XML_ATTACKS["xxe_file"]


@pytest.mark.parametrize("attack", sorted(XML_ATTACKS))
def test_xml_attacks_are_refused(api: ApiClient, shared: Any, attack: str) -> None:
    text = XML_ATTACKS[attack]
    content = (
        text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
        if attack == "utf16_doctype"
        else text.encode("utf-8", "surrogateescape")
    )
    body = _refused(api, shared, [("evil.bpmn", content), *_forms()])
    assert "passwd" not in json.dumps(body) or "root:" not in json.dumps(body)
    assert "lollollol" not in json.dumps(body)


def test_file_over_the_size_limit_is_refused(api: ApiClient, shared: Any) -> None:
    padding = "<!--" + "x" * (3 * 1024 * 1024) + "-->"
    big = (
        (DATA_DIR / "parallel_review.bpmn")
        .read_text()
        .replace("<bpmn:collaboration", padding + "<bpmn:collaboration", 1)
    )
    body = _refused(api, shared, [("big.bpmn", big.encode()), *_forms()])
    assert "больш" in _messages(body)


def test_oversized_form_and_deeply_nested_form_json_are_refused(
    api: ApiClient, shared: Any
) -> None:
    bpmn = ("parallel_review.bpmn", (DATA_DIR / "parallel_review.bpmn").read_bytes())
    others = [f for f in _forms() if f[0] != "council.json"]
    _refused(api, shared, [bpmn, ("council.json", b"[" * 200_000 + b"]" * 200_000), *others])
    _refused(api, shared, [bpmn, ("council.json", b" " * (3 * 1024 * 1024) + b"{}"), *others])
    _refused(api, shared, [bpmn, ("council.json", b"{not json"), *others])


SCRIPT_ATTACKS = {
    "import_os": "import os\nresult = os.system('id')",
    "from_import": "from subprocess import run\nrun(['id'])",
    "dunder_import": "os = __import__('os')",
    "open_file": "secret = open('/etc/passwd').read()",
    "subclasses_walk": "classes = ().__class__.__bases__[0].__subclasses__()",
    "object_subclasses": "classes = object.__subclasses__()",
    "mro_walk": "classes = type(()).__mro__[1].__subclasses__()",
    "getattr_dunder": "cls = getattr((), '__class__')",
    "globals_of_lambda": "g = (lambda: 0).__globals__",
    "frame_walk": "f = [x for x in (1,)].__class__",
    "eval": "x = eval('1+1')",
    "exec": "exec('x = 1')",
    "endless_while_true": "x = 0\nwhile True:\n    x = x + 1",
    "endless_while_1": "while 1:\n    pass",
    "syntax_error": "x = (",
    # Memory bombs that are obvious from the literals alone are refused at deploy.
    "list_times_billion": "x = [0] * 10**9",
    "string_times_ten_billion": "x = 'x' * 10**10",
    "power_tower": "x = 10**10**8",
    "shift_bomb": "x = 1 << 10**10",
    "bomb_inside_function": "def grow():\n    return 'ab' * (10**6 * 10**3)\ny = 1",
}


@pytest.mark.parametrize("attack", sorted(SCRIPT_ATTACKS))
def test_script_attacks_are_refused_at_deploy(api: ApiClient, shared: Any, attack: str) -> None:
    body = _refused(api, shared, [("evil.bpmn", _with_script(SCRIPT_ATTACKS[attack])), *_forms()])
    assert any(row["element_id"] == "evil" for row in body["report"]), body["report"]


def test_the_script_harness_deploys_a_harmless_script(api: ApiClient) -> None:
    """The attack fixture itself is a valid diagram: only the script makes it fail."""
    resp = upload(api, DESIGNER, [("ok.bpmn", _with_script("total = 1 + 1")), *_forms()])
    assert resp.status_code == 201, resp.get_json()


RUNTIME_ATTACKS = {
    "long_nested_loop": (
        "n = 0\nfor i in range(100000):\n    for j in range(100000):\n        n = n + 1"
    ),
    "huge_range": "x = sum(range(10**9))",
    "format_string_escape": "x = '{0.__class__.__bases__}'.format(1)",
    "while_with_changing_condition": "x = 1\nwhile x > 0:\n    x = x + 1",
    # Memory bombs built from values only known when the script runs.
    "list_times_variable": "n = 10\nx = [0] * n**9",
    "nested_comprehension": "x = [[0] * 1000 for i in range(100000) for j in range(100000)]",
    "big_list_of_ranges": "x = [list(range(100000)) for i in range(100000)]",
    "join_bomb": "s = 'x' * 900000\nx = ''.join([s] * 1000)",
    "padding_bomb": "n = 10\nx = 'a'.ljust(n**10)",
    "doubling_string": "s = 'x'\nfor i in range(64):\n    s = s + s",
    "doubling_list_in_place": "a = [0]\nfor i in range(64):\n    a += a",
    "shared_structure": "a = [0]\nfor i in range(60):\n    a = [a, a]",
    "fstring_width": "n = 10**9\nx = f'{1:>{n}}'",
    "keep_every_version": (
        "k = []\ns = ''\nfor i in range(100000):\n    k.append(s)\n    s += 'xxxxxxxxxx'"
    ),
}


@pytest.mark.parametrize("attack", sorted(RUNTIME_ATTACKS))
def test_scripts_that_only_fail_when_run_are_stopped_with_422(
    api: ApiClient, shared: Any, attack: str
) -> None:
    """Scripts a static check cannot judge are deployed, but running them is stopped by the
    sandbox: starting the process answers 422 and stores nothing."""
    resp = upload(api, DESIGNER, [("rt.bpmn", _with_script(RUNTIME_ATTACKS[attack])), *_forms()])
    assert resp.status_code == 201, resp.get_json()
    api.token("director.gatchina-school-1")
    api.unit_id("gatchina-school-1")
    before = counts(shared)
    start = api.post(
        "/instances",
        "director.gatchina-school-1",
        json={
            "process_key": "reliability_parallel",
            "org_unit_id": api.unit_id("gatchina-school-1"),
        },
    )
    attacks_sent["count"] += 1
    assert start.status_code == 422, start.get_data(as_text=True)
    assert start.get_json()["message"]
    assert counts(shared) == before
    # The worker that ran the script is alive and serves the next request.
    assert api.get("/me", "director.gatchina-school-1").status_code == 200


def test_request_body_over_the_limit_is_413_json(api: ApiClient, shared: Any) -> None:
    limit = shared.config["MAX_CONTENT_LENGTH"]
    api.token(DESIGNER)
    api.token(MO_HEAD)
    before = counts(shared)
    huge = b"x" * (limit + 1)
    for resp in (
        upload(api, DESIGNER, [("huge.bpmn", huge)]),
        api.post("/instances", MO_HEAD, data=huge, headers={"Content-Type": "application/json"}),
        api.post(
            "/instances",
            MO_HEAD,
            data=b'{"data": {"x": "' + huge + b'"}}',
            headers={"Content-Type": "application/json"},
        ),
    ):
        attacks_sent["count"] += 1
        assert resp.status_code == 413, resp.get_data(as_text=True)[:500]
        assert resp.is_json and resp.get_json()["message"]
    assert counts(shared) == before


MARKUP = [
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg/onload=alert(document.cookie)>",
    "javascript:alert(1)",
    "&lt;b&gt; уже экранировано &amp;",
    "{{ 7*7 }} {% raw %}",
]


def test_markup_in_text_fields_is_stored_verbatim_and_returned_json_escaped(
    api: ApiClient,
) -> None:
    start = api.post(
        "/instances",
        MO_HEAD,
        json={"process_key": "mo_plan_approval", "org_unit_id": api.unit_id("gatchina-school-1")},
    ).get_json()
    task = start["tasks"][0]
    plan = mo_plan(theme=MARKUP[0], goal=MARKUP[1], tasks=MARKUP[2:])
    done = api.post(f"/tasks/{task['id']}/complete", MO_HEAD, json={"data": plan})
    attacks_sent["count"] += 1
    assert done.status_code == 200, done.get_json()
    history = api.get(f"/instances/{start['id']}/history", "auditor")
    assert history.headers["Content-Type"].startswith("application/json")
    assert history.headers["X-Content-Type-Options"] == "nosniff"
    raw = history.get_data(as_text=True)
    for dangerous in ("<script", "<img", "<svg", "</textarea"):
        assert dangerous not in raw
    completed = next(e for e in history.get_json() if e["kind"] == "task_completed")
    stored = completed["payload"]["data"]
    assert stored["theme"] == MARKUP[0]
    assert stored["goal"] == MARKUP[1]
    assert stored["tasks"] == MARKUP[2:]
    council_task = done.get_json()["instance"]["tasks"][0]
    shown = api.get(f"/tasks/{council_task['id']}", "methodical_council.gatchina-school-1")
    assert shown.get_json()["data"]["theme"] == MARKUP[0]
    assert "<script" not in shown.get_data(as_text=True)


def test_numbers_the_database_cannot_hold_are_bad_input_not_server_errors(
    api: ApiClient, shared: Any
) -> None:
    """Found by the fuzzer: ids beyond the id columns' range reached the database (500)."""
    huge = 10**30
    api.token(MO_HEAD)
    api.token("auditor")
    before = counts(shared)
    for path in (f"/instances/{huge}", f"/tasks/{huge}", f"/instances/{2**31}/history"):
        resp = api.get(path, MO_HEAD)
        attacks_sent["count"] += 1
        assert resp.status_code == 404 and resp.is_json, (path, resp.status_code)
    for path in (f"/audit?instance_id={huge}", f"/audit?org_unit_id=-{huge}"):
        resp = api.get(path, "auditor")
        attacks_sent["count"] += 1
        assert resp.status_code in (200, 422), (path, resp.status_code)
        assert resp.is_json
    resp = api.post(
        "/instances", MO_HEAD, json={"process_key": "mo_plan_approval", "org_unit_id": huge}
    )
    attacks_sent["count"] += 1
    assert resp.status_code in (404, 422) and resp.is_json, resp.status_code
    assert counts(shared) == before


def test_audit_export_refuses_out_of_range_ids_before_streaming(api: ApiClient) -> None:
    """Found by the fuzzer: the streamed export hit the database only while streaming, so an
    out-of-range id broke the answer half-sent instead of being refused."""
    resp = api.get(f"/audit/export?format=jsonl&instance_id=-{10**22}", "auditor")
    attacks_sent["count"] += 1
    assert resp.status_code == 422 and resp.is_json
    assert "instance_id" in resp.get_json()["errors"]


def test_comparing_structures_that_share_their_parts_is_stopped_at_once(
    api: ApiClient, shared: Any
) -> None:
    """`a = [a, a]` 29 times is 30 lists in memory but 2**29 items to `a == b`: without the
    comparison guard that one C call would hold the worker for about ten seconds before the
    time budget could stop it; with it the run is refused before comparing."""
    script = "a = [0]\nb = [0]\nfor i in range(29):\n    a = [a, a]\n    b = [b, b]\nx = a == b"
    resp = upload(api, DESIGNER, [("cmp.bpmn", _with_script(script)), *_forms()])
    assert resp.status_code == 201, resp.get_json()
    before = counts(shared)
    start = api.post(
        "/instances",
        "director.gatchina-school-1",
        json={
            "process_key": "reliability_parallel",
            "org_unit_id": api.unit_id("gatchina-school-1"),
        },
    )
    attacks_sent["count"] += 1
    assert start.status_code == 422, start.get_data(as_text=True)
    assert "сравнение" in start.get_json()["message"], start.get_json()
    assert counts(shared) == before
    assert api.get("/me", "director.gatchina-school-1").status_code == 200
