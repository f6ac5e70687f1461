"""A real gunicorn server (several worker processes) over a throwaway PostgreSQL database.

Used by the concurrency and crash tests: the database is created and dropped here, the
schema, processes and demo data are installed with the product's own CLI commands, and the
server is started, killed (SIGKILL to the master and every worker) and restarted by pid.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, ROOT

LIVE_PASSWORD = "live-demo-password"
DEMO_PASSWORD_ENV = "DEMO_PASSWORD"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpError(Exception):
    """The server could not be reached or dropped the connection (no HTTP status seen)."""


class Http:
    """A tiny thread-safe JSON client: one connection per request, as separate clients do."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """Send a request to /api/v1<path>; return (status, parsed JSON or None)."""
        headers = {"Accept": "application/json"}
        payload = raw
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
        if payload is not None:
            headers["Content-Type"] = content_type
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, f"/api/v1{path}", body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise HttpError(f"{method} {path}: {exc!r}") from exc
        finally:
            conn.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode("utf-8", "replace")
        return resp.status, parsed

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return self.request("GET", path, token)

    def post(self, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        return self.request("POST", path, token, body if body is not None else {})

    def token(self, username: str, password: str = LIVE_PASSWORD) -> str:
        status, body = self.post("/auth/token", None, {"username": username, "password": password})
        assert status == 200, (status, body)
        return str(body["token"])

    def post_files(self, path: str, token: str, files: list[tuple[str, bytes]]) -> tuple[int, Any]:
        """POST multipart/form-data with every file under the field name `files`."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, content in files:
            parts.append(
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                    f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                ).encode()
                + content
                + b"\r\n"
            )
        raw = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request(
            "POST", path, token, raw=raw, content_type=f"multipart/form-data; boundary={boundary}"
        )


class LiveServer:
    """gunicorn serving wsgi:app on a free port over its own PostgreSQL database."""

    def __init__(self, workdir: Path, workers: int = 4) -> None:
        self.workdir = workdir
        self.workers = workers
        self.db_name = f"rsnms_live_{secrets.token_hex(4)}"
        self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.db_name}"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.http = Http(self.port)

    # --- database -------------------------------------------------------------------------

    def create_database(self) -> None:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        admin.dispose()

    def drop_database(self) -> None:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        admin.dispose()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                DEMO_PASSWORD_ENV: LIVE_PASSWORD,
                "FLASK_APP": "wsgi.py",
                "SECRET_KEY": "live-test-secret-key-not-for-production",
                "INSTANCE_DIR": str(self.workdir / "instance"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def flask(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `flask` CLI command against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def prepare(self) -> None:
        """Create the database, apply migrations, deploy processes/, seed the demo data."""
        self.create_database()
        for args in (("db", "upgrade"), ("processes", "deploy"), ("demo", "seed")):
            result = self.flask(*args)
            assert result.returncode == 0, (args, result.stdout, result.stderr)

    # --- server ---------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.workdir / "gunicorn.log"

    def start(self, timeout: float = 60.0) -> None:
        """Start gunicorn and wait until it answers."""
        assert self.proc is None
        self.starts += 1
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "120",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(HttpError):
                status, _ = self.http.get("/openapi.json")
                if status == 200 and len(self.worker_pids()) == self.workers:
                    return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start in time")

    def worker_pids(self) -> list[int]:
        """Pids of the master's worker processes (read from /proc, by parent pid)."""
        if self.proc is None:
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def kill9(self) -> list[int]:
        """SIGKILL the master and every worker at once, as a power cut would; return the pids."""
        assert self.proc is not None
        pids = [self.proc.pid, *self.worker_pids()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        for pid in pids[1:]:
            _wait_gone(pid)
        self.proc = None
        return pids

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the master); SIGKILL if it does not stop in time."""
        if self.proc is None:
            return
        workers = self.worker_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()
            return
        for pid in workers:
            _wait_gone(pid)
        self.proc = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A killed worker whose parent died is reaped by init; until then it is a zombie.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise RuntimeError(f"process {pid} did not exit")
