"""docs/aiohttp.md and docs/tornado.md: each "Set up" block runs as printed and serves tokens."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import aiohttp_session
import httpx
import pytest
import tornado.web
from aiohttp import web

from .loop_servers import aiohttp_server, tornado_server
from .support import CLIENT_ID, ROOT, SECRET, verify_token


def setup_block(doc: str) -> tuple[str, Path]:
    path = ROOT / "docs" / doc
    section = path.read_text().split("## Set up\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block under 'Set up' in {doc}"
    return match.group(1), path


def run_block(doc: str) -> dict[str, Any]:
    code, path = setup_block(doc)
    namespace: dict[str, Any] = {"__name__": doc.replace(".", "_")}
    exec(compile(code, str(path), "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("SESSION_KEY", secrets.token_hex(32))
    monkeypatch.setenv("COOKIE_SECRET", secrets.token_urlsafe(32))


def check_login_flow(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        assert client.get("/rollout-token").status_code == 401
        assert client.post("/login/ada", content=b"").status_code == 200
        response = client.get("/rollout-token")
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "ada"


@pytest.mark.server
def test_the_aiohttp_setup_block() -> None:
    async def login(request: web.Request) -> web.Response:
        session = await aiohttp_session.new_session(request)
        session["user_id"] = request.match_info["user"]
        return web.Response(text="ok")

    def make_app() -> web.Application:
        app: web.Application = run_block("aiohttp.md")["app"]
        app.router.add_post("/login/{user}", login)
        return app

    with aiohttp_server(make_app) as url:
        check_login_flow(url)


@pytest.mark.server
def test_the_tornado_setup_block() -> None:
    namespace = run_block("tornado.md")

    class Login(namespace["BaseHandler"]):  # type: ignore[misc]
        def post(self, user: str) -> None:
            self.set_signed_cookie("user", user)

    def make_app() -> tornado.web.Application:
        app: tornado.web.Application = namespace["app"]
        app.add_handlers(r".*", [(r"/login/(\w+)", Login)])
        return app

    with tornado_server(make_app) as url:
        check_login_flow(url)
