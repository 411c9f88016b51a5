"""docs/fastapi.md (and the README's fragment of it) does what it says, each snippet run as printed.

The first block names the security tutorial's ``User`` and ``get_current_active_user``: they come
from ``examples/fastapi_app.py``, the tutorial app. The ``fetch`` snippet runs under Node against
that app in a real uvicorn server.
"""

from __future__ import annotations

import re
import subprocess
import time
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Form, Request
from fastapi.testclient import TestClient

from ..support import CLIENT_ID, ROOT, SECRET, require_executable, verify_token
from .test_fastapi import example_server, load_example, problem

#: The page the README's FastAPI fragment points to: its code is tested here as it is printed.
TEXT = (ROOT / "docs" / "fastapi.md").read_text()
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, re.M | re.S)
JS_BLOCKS = re.findall(r"^```js\n(.*?)^```", TEXT, re.M | re.S)
INLINE = re.findall(r"`([^`\n]+)`", TEXT)


def inline(start: str) -> str:
    """The one inline code span of the section that starts with ``start``."""
    [code] = [span for span in INLINE if span.startswith(start)]
    return code


def access_token(example: ModuleType, username: str) -> dict[str, str]:
    claims = {"sub": username, "exp": int(time.time()) + 60}
    return {"Authorization": f"Bearer {jwt.encode(claims, example.SECRET_KEY, 'HS256')}"}


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_example(monkeypatch)  # also sets ROLLOUT_CLIENT_ID / ROLLOUT_CLIENT_SECRET


def run_snippet(code: str, **names: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_snippet", **names}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


def test_the_pages_snippets_are_found() -> None:
    assert len(PYTHON_BLOCKS) >= 2
    assert len(JS_BLOCKS) == 1
    assert "app.mount(" not in "".join(PYTHON_BLOCKS)


def test_the_readme_shows_the_pages_wiring() -> None:
    """The README's FastAPI fragment is this page's wiring, so these tests cover it too."""
    readme = (ROOT / "README.md").read_text()
    fragment = re.search(r"^### FastAPI\n.*?```python\n(.*?)^```", readme, re.M | re.S)
    assert fragment is not None
    for line in fragment.group(1).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert line.split("  #")[0].rstrip() in PYTHON_BLOCKS[0], line


def test_the_dependency_snippet(example: ModuleType) -> None:
    """A token for the tutorial's user; FastAPI's 401 and 400; 403 first; the lock in /docs."""
    namespace = run_snippet(
        PYTHON_BLOCKS[0],
        User=example.User,
        get_current_active_user=example.get_current_active_user,
    )
    app: FastAPI = namespace["app"]
    with TestClient(app) as client:
        token = client.get("/rollout-token", headers=access_token(example, "johndoe"))
        assert verify_token(token.json()["token"])["sub"] == "johndoe"
        missing = client.get("/rollout-token")
        assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
        assert missing.json() == {"detail": "Not authenticated"}
        disabled = client.get("/rollout-token", headers=access_token(example, "alice"))
        assert (disabled.status_code, disabled.json()) == (400, {"detail": "Inactive user"})
        cross_site = {**access_token(example, "johndoe"), "Sec-Fetch-Site": "cross-site"}
        problem(client.get("/rollout-token", headers=cross_site), 403)
        head = client.head("/rollout-token", headers=access_token(example, "johndoe"))
        assert (head.status_code, head.content) == (200, b"")
        problem(client.post("/rollout-token"), 405)
        operation = client.get("/openapi.json").json()["paths"]["/rollout-token"]["get"]
        assert operation["security"] == [{"OAuth2PasswordBearer": []}]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/RolloutToken"
        }
        # "Tests log a user in with ..."
        override = next(b for b in PYTHON_BLOCKS if b.startswith("app.dependency_overrides"))
        run_snippet(override, app=app, current_user_id=namespace["current_user_id"])
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "alice"


def test_the_prefix_sentence(example: ModuleType) -> None:
    """``include_router(..., prefix="/api")`` puts the token at ``/api/rollout-token``, and
    ``request.url_for("rollout_token")`` builds its URL."""
    assert 'prefix="/api"' in inline("app.include_router(..., prefix")
    namespace = run_snippet(
        PYTHON_BLOCKS[0].replace(
            'app.include_router(rollout_token_router(current_user_id, tags=["rollout"]))',
            'app.include_router(rollout_token_router(current_user_id), prefix="/api")',
        ),
        User=example.User,
        get_current_active_user=example.get_current_active_user,
    )
    app: FastAPI = namespace["app"]
    url_for = inline("request.url_for(")

    @app.get("/where")
    def where(request: Request) -> str:
        return str(eval(url_for, {"request": request}))  # noqa: S307 - the README's own code

    with TestClient(app) as client:
        assert client.get("/where").json() == "http://testserver/api/rollout-token"
        token = client.get("/api/rollout-token", headers=access_token(example, "johndoe"))
        assert verify_token(token.json()["token"])["sub"] == "johndoe"
        assert client.get("/rollout-token").status_code == 404


def add_login(app: FastAPI) -> None:
    @app.post("/login")
    def login(request: Request, username: str = Form()) -> str:
        request.session["user_id"] = username
        return username


def test_the_session_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    from rollout_middleware.contrib.fastapi import rollout_token_router

    namespace = run_snippet(
        PYTHON_BLOCKS[1], app=FastAPI(), rollout_token_router=rollout_token_router
    )
    app: FastAPI = namespace["app"]
    add_login(app)
    with TestClient(app) as client:
        problem(client.get("/rollout-token"), 401)
        client.post("/login", data={"username": "lea"})
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "lea"


def scope_app(*statements: str) -> FastAPI:
    """A FastAPI app with a session login, and the README's statements run on it."""
    from starlette.middleware.sessions import SessionMiddleware

    from rollout_middleware import RolloutTokenEndpoint, RolloutTokenMiddleware
    from rollout_middleware.resolvers import session_user

    app = FastAPI()
    add_login(app)
    names = {
        "app": app,
        "RolloutTokenMiddleware": RolloutTokenMiddleware,
        "RolloutTokenEndpoint": RolloutTokenEndpoint,
        "session_user": session_user,
    }
    for statement in statements:
        run_snippet(
            statement.replace("resolve_user=...", 'resolve_user=session_user("user_id")'), **names
        )
    app.add_middleware(SessionMiddleware, secret_key="readme-session-key")
    return app


@pytest.mark.parametrize("kind", ["middleware", "add_route"])
def test_the_scope_based_ways(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The middleware, and the endpoint as a route at exactly that path: no redirect, nothing
    served below it."""
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    middleware = next(b for b in PYTHON_BLOCKS if "app.add_middleware(RolloutTokenMiddleware" in b)
    statement = (
        # the add_middleware line of ours (the test adds the session)
        next(line for line in middleware.splitlines() if "RolloutTokenMiddleware," in line)
        if kind == "middleware"
        else inline("app.add_route(")
    )
    app = scope_app(statement)
    with TestClient(app, follow_redirects=False) as client:
        problem(client.get("/rollout-token"), 401)
        client.post("/login", data={"username": "max"})
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "max"
        assert client.get("/rollout-token/more").status_code == 404


def test_not_app_mount(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the README warns of: a mount redirects the path itself and serves every path below."""
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    said = "a mount answers `GET /rollout-token` with a `307` to `/rollout-token/`"
    assert said in " ".join(TEXT.split())
    app = scope_app('app.mount("/rollout-token", RolloutTokenEndpoint(resolve_user=...))')
    with TestClient(app, follow_redirects=False) as client:
        redirect = client.get("/rollout-token")
        assert redirect.status_code == 307
        assert redirect.headers["location"] == "http://testserver/rollout-token/"
        client.post("/login", data={"username": "ned"})
        below = client.get("/rollout-token/anything/at/all")
        assert verify_token(below.json()["token"])["sub"] == "ned"


@pytest.mark.server
@pytest.mark.node
def test_the_fetch_snippet_with_a_bearer_token() -> None:
    """The README's ``fetch``, under Node, against the tutorial app in uvicorn."""
    node = require_executable("node", "the README's fetch snippet runs under Node")
    program = (
        "const base = process.argv[1];\n"
        "const accessToken = process.argv[2];\n"
        "const fetch = (url, init) => globalThis.fetch(base + url, init);\n"
        + "\n".join(line for line in JS_BLOCKS[0].splitlines() if not line.startswith("<"))
        + "\nfetchRolloutToken().then((token) => console.log(token));\n"
    )
    with example_server() as url:
        login = httpx.post(url + "/token", data={"username": "johndoe", "password": "secret"})
        result = subprocess.run(
            [node, "-e", program, url, login.json()["access_token"]],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    assert verify_token(result.stdout.strip())["sub"] == "johndoe"
