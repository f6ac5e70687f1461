"""Real-browser fixtures: the seeded app on a local port, driven by Playwright in Debian's
Chromium (/usr/bin/chromium). Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import DEMO_PASSWORD, ROOT
from tests.web.conftest import english_catalog  # noqa: F401  (a shared fixture)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
VENDOR = ROOT / "app" / "static" / "vendor"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Outside CI, skip the browser tests when Chromium is not installed; in CI they must run."""
    if CHROMIUM.exists() or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    assert (VENDOR / ".installed").exists(), (
        "Front-end assets are missing: run `make setup` (npm ci + copy into app/static/vendor)."
    )
    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


class _QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        return None


@pytest.fixture()
def live_server(seeded: Flask) -> Iterator[str]:
    """The seeded app served on 127.0.0.1 at a free port, in a thread."""
    server = make_server("127.0.0.1", 0, seeded, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class Session:
    """One user's browser context: log in, navigate, take screenshots."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(
            base_url=base_url, viewport=viewport, locale="ru-RU", timezone_id="Europe/Moscow"
        )
        self.context.set_default_timeout(30_000)  # generous: CI machines are small
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def login(self, username: str, password: str = DEMO_PASSWORD) -> Any:
        page = self.page
        page.goto("/login")
        page.get_by_label("Имя пользователя").fill(username)
        page.get_by_label("Пароль").fill(password)
        page.get_by_role("button", name="Войти").click()
        page.wait_for_url("**/")
        return page

    def shot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def open_session(browser: Any, live_server: str) -> Iterator[Any]:
    """Factory of browser sessions (default: laptop size); all closed after the test."""
    sessions: list[Session] = []

    def make(viewport: dict[str, int] | None = None) -> Session:
        session = Session(browser, live_server, viewport or {"width": 1366, "height": 900})
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        assert not session.errors, f"JavaScript errors: {session.errors}"
        session.close()
