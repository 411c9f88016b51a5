"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, the example server,
and the React bundle of ``examples/react-link`` (built with npm when missing or stale)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support import (
    CLIENT_ID,
    IN_CI,
    PYTHON,
    ROOT,
    SECRET,
    free_port,
    npm_ci,
    require_executable,
    running_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response

REACT_DIR = ROOT / "examples" / "react-link"
ARTIFACTS = ROOT / "test-artifacts"
#: Generous: the machines running these are small and shared. Never part of an assert on time.
TIMEOUT_MS = 20_000


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "the playwright package is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


# Package scope, not session: Playwright's sync API keeps an event loop running on the main thread
# while it is open, and Django's ORM refuses to run on a thread with a running loop; the browser
# must be closed before the rest of the suite goes on.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    chromium = require_executable("chromium", "the browser tests drive Debian's chromium package")
    with _sync_playwright()() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        yield browser
        browser.close()


def _newest_source(directory: Path) -> float:
    sources = [directory / "package.json", directory / "package-lock.json", directory / "build.mjs"]
    sources += (directory / "src").rglob("*")
    return max(path.stat().st_mtime for path in sources if path.is_file())


@pytest.fixture(scope="session")
def react_bundle() -> Path:
    """``examples/react-link/dist``, installed with ``npm ci`` and built if missing or stale.

    Offline (``npm ci`` fails), the tests that need it skip, with the reason.
    """
    require_executable("node", "the React example is built with esbuild on Node.js")
    why = "the React example installs @rollout/link-react with npm"
    npm = require_executable("npm", why)
    dist = REACT_DIR / "dist"
    if not (REACT_DIR / "node_modules" / "@rollout" / "link-react").is_dir():
        npm_ci(REACT_DIR, why)
    bundle = dist / "app.js"
    if not bundle.is_file() or bundle.stat().st_mtime < _newest_source(REACT_DIR):
        subprocess.run([npm, "run", "build"], cwd=REACT_DIR, check=True)
    assert (dist / "app.css").is_file()
    return dist


@pytest.fixture(scope="package")
def server() -> Iterator[str]:
    """The example server on a free port, with the test credentials and the stand-in."""
    port = free_port()
    argv = [PYTHON, str(ROOT / "examples" / "server.py"), "--port", str(port), "--stand-in"]
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    with running_server([*argv, "--quiet"], port, env=env, ready_path="/login") as url:
        yield url


class StandIn:
    """The example server's Rollout API stand-in, through its HTTP controls."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url + "/rollout-api/_stand-in"

    def clear(self) -> None:
        httpx.delete(self.url + "/requests").raise_for_status()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        response = httpx.get(self.url + "/requests")
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()
        return [r for r in records if path is None or r["path"] == path]


@pytest.fixture
def stand_in(server: str) -> StandIn:
    api = StandIn(server)
    api.clear()
    return api


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh browser context (no cookies), failing the test on any uncaught page error."""
    context = browser.new_context(base_url=server, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


@pytest.fixture
def served_tokens(page: Page) -> list[str]:
    """Every token our ``/rollout-token`` endpoint answered to the page, in order."""
    tokens: list[str] = []

    def on_response(response: Response) -> None:
        if response.url.endswith("/rollout-token") and response.status == 200:
            tokens.append(response.json()["token"])

    page.on("response", on_response)
    return tokens


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], Path]:
    def take(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page: Page, user_id: str, next_page: str = "/") -> None:
    """Open ``next_page``, which asks to log in first, and log in as ``user_id``."""
    from playwright.sync_api import expect

    page.goto(next_page)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.click(f"button[data-user={user_id}]")
    expect(page).to_have_url(re.compile(re.escape(next_page) + "$"))
