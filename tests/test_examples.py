"""The small copyable examples (``examples/*_app.py``), each run as its own server on 127.0.0.1.

Each is started exactly as its docstring says (``python examples/NAME.py --port N``, or uvicorn for
``fastapi_app``, with the two credentials in the environment), and every token it serves is checked
with PyJWT as a user of the example would, and independently by :func:`tests.support.verify_token`.
(``examples/fastapi_app.py`` is served and exercised in ``tests/contrib/test_fastapi.py``.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import jwt
import pytest

from .support import (
    CLIENT_ID,
    PYTHON,
    ROOT,
    SECRET,
    free_port,
    running_server,
    skip_without,
    verify_token,
)

pytestmark = pytest.mark.server

CREDENTIALS = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
MAX_LINES = 80


@contextlib.contextmanager
def example(name: str, env: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    skip_without((ROOT / "examples" / f"{name}.py").read_text())
    port = free_port()
    argv = [PYTHON, str(ROOT / "examples" / f"{name}.py"), "--port", str(port)]
    if name == "fastapi_app":  # its docstring starts it with uvicorn
        examples = str(ROOT / "examples")
        argv = [PYTHON, "-m", "uvicorn", f"{name}:app", "--app-dir", examples, "--port", str(port)]
    with (
        running_server(argv, port, env=CREDENTIALS if env is None else env) as url,
        httpx.Client(base_url=url) as client,
    ):
        yield client


def decoded(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    claims: dict[str, object] = jwt.decode(token, SECRET, algorithms=["HS512"], issuer=CLIENT_ID)
    assert claims == verify_token(token)
    return claims


@pytest.mark.parametrize("name", ["starlette_app", "flask_app", "litestar_app", "quart_app"])
def test_session_login_examples_serve_the_logged_in_user(name: str) -> None:
    with example(name) as client:
        assert client.get("/rollout-token").status_code == 401
        assert client.post("/login", data={"user_id": ""}).status_code == 400
        assert client.post("/login", data={"user_id": "ada"}).status_code == 303
        assert client.get("/").text == "Logged in as ada"
        assert decoded(client.get("/rollout-token"))["sub"] == "ada"
        client.post("/logout")
        assert client.get("/rollout-token").status_code == 401
        client.post("/login", data={"user_id": "grace"})
        assert decoded(client.get("/rollout-token"))["sub"] == "grace"


def test_wsgi_example_serves_the_user_the_proxy_names() -> None:
    with example("wsgi_app") as client:
        assert client.get("/rollout-token").status_code == 401
        headers = {"X-Auth-User": "ada"}
        assert decoded(client.get("/rollout-token", headers=headers))["sub"] == "ada"
        page = client.get("/", headers=headers)
        assert page.status_code == 200
        assert page.text.startswith("Hello, ada.")


@pytest.mark.parametrize("name", ["flask_app", "wsgi_app", "drf_app", "fastapi_app"])
def test_examples_start_without_credentials_and_answer_503(name: str) -> None:
    no_credentials = {"ROLLOUT_CLIENT_ID": "", "ROLLOUT_CLIENT_SECRET": ""}
    with example(name, env=no_credentials) as client:
        answer = client.get("/rollout-token", headers={"X-Auth-User": "ada"})
        # wsgi_app trusts the proxy's header: a user, and no credentials to sign for them. The
        # others want their own login first, and answer for nobody as usual.
        if name == "wsgi_app":
            assert answer.status_code == 503
            assert answer.json()["detail"] == "Rollout tokens are not available right now."
        else:
            assert answer.status_code == 401


@pytest.mark.parametrize(
    "name", ["starlette_app", "flask_app", "wsgi_app", "litestar_app", "quart_app"]
)
def test_examples_are_small_enough_to_copy(name: str) -> None:
    lines = (ROOT / "examples" / f"{name}.py").read_text().splitlines()
    assert len(lines) <= MAX_LINES


def test_drf_example_serves_the_user_drf_authenticates() -> None:
    with example("drf_app") as client:
        anonymous = client.get("/rollout-token")
        assert anonymous.status_code == 401  # DRF's own answer, with its challenge
        assert anonymous.headers["www-authenticate"] == "Token"
        refused = client.post("/api-token-auth/", data={"username": "ada", "password": "wrong"})
        assert refused.status_code == 400
        login = client.post(
            "/api-token-auth/", data={"username": "ada", "password": "ada-password"}
        )
        key = login.json()["token"]
        answer = client.get("/rollout-token", headers={"Authorization": f"Token {key}"})
        assert decoded(answer)["sub"] == "1"  # ada's pk: the first user of a fresh database
        assert answer.headers["cache-control"] == "no-store"


def test_drf_example_is_small_enough_to_copy() -> None:
    assert len((ROOT / "examples" / "drf_app.py").read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("name", ["litestar_app", "quart_app"])
def test_examples_run_without_credentials_and_answer_503(name: str) -> None:
    """Credentials are read at the first token request: the app itself starts and serves."""
    with example(name, env={"ROLLOUT_CLIENT_ID": "", "ROLLOUT_CLIENT_SECRET": ""}) as client:
        assert client.get("/").text == "Not logged in: POST /login"
        client.post("/login", data={"user_id": "ada"})
        assert client.get("/").text == "Logged in as ada"
        refused = client.get("/rollout-token")
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"


def test_the_litestar_example_documents_its_token_route() -> None:
    with example("litestar_app") as client:
        operation = client.get("/schema/openapi.json").json()["paths"]["/rollout-token"]["get"]
        assert operation["operationId"] == "getRolloutToken"
