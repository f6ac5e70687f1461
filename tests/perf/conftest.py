"""Benchmarks run only with `-m perf` (make bench); they write bench-results.json at the root."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT

from . import support

RESULTS_FILE = ROOT / "bench-results.json"
_RESULTS = pytest.StashKey[support.BenchResults]()


def _perf_selected(config: pytest.Config) -> bool:
    return "perf" in (config.getoption("markexpr", "") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip benchmarks unless the -m expression names perf (make test does not)."""
    if _perf_selected(config):
        return
    skip = pytest.mark.skip(reason="бенчмарк: запускается командой make bench (pytest -m perf)")
    for item in items:
        if "perf" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bench(request: pytest.FixtureRequest) -> Iterator[support.BenchResults]:
    """The figures of this run; written to bench-results.json when the session ends."""
    results = support.BenchResults()
    request.config.stash[_RESULTS] = results
    load, cpus = results.load_before[0], os.cpu_count() or 1
    if load > cpus:
        print(
            f"\n[bench] машина занята: средняя загрузка {load:.1f} при {cpus} ядрах — "
            "цифры будут занижены (см. meta.loadavg_* в bench-results.json)"
        )
    yield results
    RESULTS_FILE.write_text(
        json.dumps(results.as_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the table of figures and targets after the run."""
    results = terminalreporter.config.stash.get(_RESULTS, None)
    if results is None:
        return
    terminalreporter.section("benchmark")
    terminalreporter.write_line(results.table())
    terminalreporter.write_line(f"записано: {RESULTS_FILE}")


@pytest.fixture(scope="session")
def need_postgres() -> None:
    """Skip PostgreSQL figures, with a reason, when the server is not there."""
    if not support.postgres_available():
        pytest.skip("PostgreSQL на 127.0.0.1:5432 недоступен")


@pytest.fixture(scope="session")
def http_server(
    need_postgres: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[support.Server]:
    """gunicorn (2 workers) on a throwaway PostgreSQL database prepared by the flask CLI."""
    tmp = tmp_path_factory.mktemp("bench-http")
    with support.throwaway_postgres("http") as url:
        env = support.cli_env(url, tmp / "instance")
        support.run_cli(["db", "upgrade"], env)
        support.run_cli(["processes", "deploy", str(support.process_dir(tmp))], env)
        support.run_cli(["demo", "seed"], env)
        with support.gunicorn(env, tmp / "gunicorn.log", workers=2) as port:
            yield support.Server(port=port, database_url=url)
