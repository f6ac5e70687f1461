"""Shared pieces of the benchmarks: the workload, timing, throwaway databases, gunicorn, HTTP.

Every figure of bench-results.json is defined in docs/performance.md; this module holds what
the benchmark modules share so that the engine, service and HTTP figures run the same work.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.config import TestConfig
from app.engine import definitions
from app.extensions import db
from app.services import demo, deployment
from tests.conftest import DEMO_PASSWORD, PG_ADMIN_URL, ROOT
from tests.factories import mo_plan

PROCESS_KEY = "mo_plan_approval"
SCHOOLS = ("gatchina-school-1", "gatchina-school-2", "luga-school-1", "luga-school-2")
START_DATA: dict[str, Any] = {"approver_role": "director"}
COUNCIL_APPROVE = {"council_decision": "approve", "council_comment": "Одобрено"}
COUNCIL_RETURN = {"council_decision": "return", "council_comment": "Добавьте заседание по ГИА"}
DIRECTOR_APPROVE = {"approval_decision": "approve", "approval_order_number": "12-о"}
ARTIFACTS = ROOT / "test-artifacts" / "perf"


def scale() -> float:
    """BENCH_SCALE multiplies every count (default 1); the 100k inbox data set never scales."""
    return max(float(os.environ.get("BENCH_SCALE", "1")), 0.05)


def scaled(count: int, minimum: int = 1) -> int:
    """A workload count multiplied by BENCH_SCALE."""
    return max(minimum, round(count * scale()))


def step_data(bpmn_id: str) -> dict[str, Any]:
    """The form data the straight path of mo_plan_approval submits at each user task."""
    if bpmn_id == "Task_draft":
        return mo_plan()
    if bpmn_id == "Task_council_review":
        return dict(COUNCIL_APPROVE)
    if bpmn_id == "Task_approve_director":
        return dict(DIRECTOR_APPROVE)
    raise AssertionError(f"unexpected task {bpmn_id} on the straight path")


def lane_user(lane: str, school: str) -> str:
    """The demo user who holds a lane's role at a school."""
    return f"{lane}.{school}"


def process_files() -> dict[str, bytes]:
    """Only the benchmarked diagram, so that someone's unfinished diagram cannot stop a run."""
    return {f"{PROCESS_KEY}.bpmn": (ROOT / "processes" / f"{PROCESS_KEY}.bpmn").read_bytes()}


def process_dir(tmp: Path) -> Path:
    """A processes/ directory with the benchmarked diagram, next to a copy of forms/."""
    target = tmp / "processes"
    target.mkdir(parents=True, exist_ok=True)
    for name, content in process_files().items():
        (target / name).write_bytes(content)
    forms = tmp / "forms"
    if not forms.exists():
        shutil.copytree(ROOT / "forms" / PROCESS_KEY, forms / PROCESS_KEY)
    return target


# --- timing -------------------------------------------------------------------------------


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 200 samples is the 190th smallest)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    """The median, for rounds of a throughput measurement."""
    return float(statistics.median(values))


@contextmanager
def profiled(name: str) -> Iterator[None]:
    """With BENCH_PROFILE=1, profile the block with pyinstrument into test-artifacts/perf/."""
    if os.environ.get("BENCH_PROFILE") != "1":
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{name}.txt").write_text(
            profiler.output_text(unicode=True, color=False), encoding="utf-8"
        )
        (ARTIFACTS / f"{name}.html").write_text(profiler.output_html(), encoding="utf-8")
        print(f"\n[bench] профиль: {ARTIFACTS / name}.txt")


# --- results ------------------------------------------------------------------------------

# (figure, comparison, threshold): the targets of issue 8.
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("ratio_service_vs_engine", ">=", 0.6),
    ("ratio_http_vs_engine", ">=", 0.5),
    ("inbox_p95_ms_100k", "<", 50.0),
    ("step_ms_ratio_rev100", "<=", 3.0),
    ("monitoring_dashboard_p95_ms", "<", 300.0),  # issue 6: the region's dashboard
)
REQUIRED_KEYS = (
    "engine_tasks_per_s",
    "service_tasks_per_s_pg",
    "service_tasks_per_s_sqlite",
    "http_tasks_per_s_pg",
    "ratio_service_vs_engine",
    "ratio_http_vs_engine",
    "inbox_p95_ms_100k",
    "step_ms_ratio_rev100",
    "state_bytes_rev100",
    "start_ms_p95",
)


@dataclass
class BenchResults:
    """Figures measured in this run; ratios are derived from figures of the same run."""

    figures: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)

    def record(self, key: str, value: float | int | None, **detail: Any) -> None:
        """Store one figure (rounded for reading) and what it was measured on."""
        if isinstance(value, float):
            value = round(value, 3)
        self.figures[key] = value
        if detail:
            self.details[key] = detail

    def derive(self) -> None:
        """The ratios, from figures measured in this same run."""
        engine = self.figures.get("engine_tasks_per_s")
        for key, source in (
            ("ratio_service_vs_engine", "service_tasks_per_s_pg"),
            ("ratio_service_sqlite_vs_engine", "service_tasks_per_s_sqlite"),
            ("ratio_http_vs_engine", "http_tasks_per_s_pg"),
        ):
            value = self.figures.get(source)
            self.figures[key] = round(value / engine, 3) if engine and value else None
        floor = self.figures.get("floor_tasks_per_s_pg")
        if floor:
            # The best a database-backed completion reaches here, and how close the service is.
            self.figures["ratio_floor_vs_engine"] = round(floor / engine, 3) if engine else None
            service = self.figures.get("service_tasks_per_s_pg")
            self.figures["ratio_service_vs_floor"] = round(service / floor, 3) if service else None

    def targets(self) -> dict[str, dict[str, Any]]:
        """Each target with the measured value and whether it is met (None: not measured)."""
        result = {}
        for key, op, threshold in TARGETS:
            value = self.figures.get(key)
            met = None
            if value is not None:
                met = {">=": value >= threshold, "<": value < threshold, "<=": value <= threshold}[
                    op
                ]
            result[key] = {"target": f"{op} {threshold:g}", "value": value, "met": met}
        return result

    def as_json(self) -> dict[str, Any]:
        """The content of bench-results.json."""
        self.derive()
        out: dict[str, Any] = {key: self.figures.get(key) for key in REQUIRED_KEYS}
        out.update({k: v for k, v in sorted(self.figures.items()) if k not in out})
        out["targets"] = self.targets()
        out["details"] = self.details
        out["meta"] = machine_meta(self)
        return out

    def table(self) -> str:
        """A plain-text table of every figure and target, for the terminal."""
        self.derive()
        targets = self.targets()
        lines = [f"{'figure':34} {'value':>14}  target"]
        keys = list(REQUIRED_KEYS) + sorted(k for k in self.figures if k not in REQUIRED_KEYS)
        for key in keys:
            value = self.figures.get(key)
            if value is None:
                shown = "—"
            elif isinstance(value, int):
                shown = f"{value:,}".replace(",", " ")
            else:
                shown = f"{value:,.2f}".replace(",", " ")
            verdict = ""
            if key in targets:
                t = targets[key]
                state = {True: "выполнено", False: "НЕ ВЫПОЛНЕНО", None: "не измерено"}
                verdict = f"{t['target']}: {state[t['met']]}"
            lines.append(f"{key:34} {shown:>14}  {verdict}")
        return "\n".join(lines)


def machine_meta(results: BenchResults) -> dict[str, Any]:
    """Date, machine and load: the context a figure needs to be compared with another."""
    import platform
    from datetime import UTC, datetime

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "bench_scale": scale(),
        "duration_s": round(time.time() - results.started, 1),
        "loadavg_before": [round(x, 2) for x in results.load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


# --- databases and apps ---------------------------------------------------------------------


@contextmanager
def throwaway_postgres(label: str) -> Iterator[str]:
    """CREATE DATABASE a fresh PostgreSQL database, yield its URL, DROP it at the end."""
    name = f"rsnms_bench_{label}_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> bool:
    """True when the PostgreSQL server of the test suite answers."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def build_app(database_url: str) -> Flask:
    """An app on the given database: migrations, demo org and users, mo_plan_approval deployed."""
    config = TestConfig(database_url)
    config.DEMO_PASSWORD = DEMO_PASSWORD  # type: ignore[misc]
    app = create_app(config)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        demo.seed(DEMO_PASSWORD)
        bundle = deployment.Bundle(sources=process_files())
        for path in sorted((ROOT / "forms" / PROCESS_KEY).glob("*.json")):
            bundle.forms[f"{PROCESS_KEY}/{path.name}"] = path.read_bytes()
        deployment.deploy(bundle, None)
        db.session.remove()
    # Version ids of different databases collide in the process-wide definition cache.
    definitions.clear()
    return app


# --- gunicorn and HTTP ------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A gunicorn serving the app on a throwaway PostgreSQL database."""

    port: int
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self) -> HttpClient:
        """A new client with its own connection (one per thread)."""
        return HttpClient(self.port)

    def token(self, username: str) -> str:
        """A bearer token for a demo user (logins are not part of any timing)."""
        if username not in self.tokens:
            status, body = self.client().call(
                "POST",
                "/api/v1/auth/token",
                json_body={"username": username, "password": DEMO_PASSWORD},
            )
            assert status == 200, body
            self.tokens[username] = body["token"]
        return self.tokens[username]


class HttpClient:
    """A minimal JSON client over http.client (gunicorn's sync workers close each connection)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request; returns status, headers and body."""
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def call(
        self, method: str, path: str, token: str | None = None, json_body: Any = None
    ) -> tuple[int, Any]:
        """A JSON API call; returns status and the decoded body."""
        headers = {"Accept": "application/json"}
        body = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        status, _headers, data = self.raw(method, path, body, headers)
        return status, json.loads(data) if data else None


def cli_env(database_url: str, instance_dir: Path) -> dict[str, str]:
    """Environment of the flask CLI and gunicorn: the throwaway database, no repo state."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "INSTANCE_DIR": str(instance_dir),
            "FLASK_APP": "wsgi.py",
            "SESSION_COOKIE_SECURE": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run_cli(args: list[str], env: dict[str, str]) -> str:
    """Run `flask <args>` in the repository with env; fail with its output if it fails."""
    proc = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"flask {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 2) -> Iterator[int]:
    """Serve wsgi:app with gunicorn on a free port; terminate it (and wait) at the end."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(port, proc, log)
            yield port
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_until_serving(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            status, _h, _b = HttpClient(port).raw("GET", "/api/v1/openapi.json")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not start: {log.read_text(errors='replace')[-3000:]}")


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Run action; return its duration in milliseconds and its result."""
    t0 = time.perf_counter()
    result = action()
    return (time.perf_counter() - t0) * 1000, result
