"""examples/aiohttp_app.py and examples/tornado_app.py as real processes: log in, get a verified token."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import CLIENT_ID, PYTHON, ROOT, SECRET, free_port, running_server, verify_token

ENV = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}


def _token_after_login(url: str, login: dict[str, str]) -> None:
    with httpx.Client(base_url=url) as client:
        assert client.get("/rollout-token").status_code == 401
        page = client.get("/").text
        form = {"username": "ada", **login}
        if match := re.search(r'name="_xsrf" value="([^"]+)"', page):
            form["_xsrf"] = match.group(1)
        assert client.post("/login", data=form).status_code == 303
        assert "<b>ada</b>" in client.get("/").text
        response = client.get("/rollout-token")
        assert response.status_code == 200
        assert verify_token(response.json()["token"])["sub"] == "ada"
        assert client.post("/logout", data={"_xsrf": form.get("_xsrf", "")}).status_code == 303
        assert client.get("/rollout-token").status_code == 401


@pytest.mark.server
@pytest.mark.parametrize("example", ["aiohttp_app.py", "tornado_app.py"])
def test_the_example_serves_tokens_to_its_logged_in_user(example: str) -> None:
    port = free_port()
    argv = [PYTHON, str(ROOT / "examples" / example), "--port", str(port)]
    with running_server(argv, port, env=ENV) as url:
        _token_after_login(url, {})


@pytest.mark.server
@pytest.mark.parametrize("example", ["aiohttp_app.py", "tornado_app.py"])
def test_without_credentials_the_example_runs_on_demo_ones(example: str) -> None:
    port = free_port()
    argv = [PYTHON, str(ROOT / "examples" / example), "--port", str(port)]
    env = {"ROLLOUT_CLIENT_ID": "", "ROLLOUT_CLIENT_SECRET": ""}
    with running_server(argv, port, env=env) as url, httpx.Client(base_url=url) as client:
        assert client.get("/rollout-token").status_code == 401
