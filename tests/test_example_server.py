"""``examples/server.py`` as a real uvicorn process: login, tokens per user, the stand-in it mounts."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from starlette.testclient import TestClient

from tests.support import CLIENT_ID, PYTHON, ROOT, SECRET, free_port, running_server, verify_token

SERVER = ROOT / "examples" / "server.py"
TTL = 600


def load_example() -> ModuleType:
    """Import ``examples/server.py`` (not a package) as the module ``rollout_demo_server``."""
    if "rollout_demo_server" in sys.modules:
        return sys.modules["rollout_demo_server"]
    spec = importlib.util.spec_from_file_location("rollout_demo_server", SERVER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rollout_demo_server"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    argv = [PYTHON, str(SERVER), "--port", str(port), "--stand-in", "--quiet", "--ttl", str(TTL)]
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    with running_server(argv, port, env=env, ready_path="/login") as url:
        yield url


@pytest.fixture(scope="module")
def _client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, follow_redirects=False) as client:
        yield client


@pytest.fixture
def browser_like(_client: httpx.Client) -> httpx.Client:
    """A client with no cookies yet (logged out), and a stand-in that has seen nothing."""
    _client.cookies.clear()
    _client.delete("/rollout-api/_stand-in/requests")
    return _client


def log_in(client: httpx.Client, user_id: str) -> None:
    response = client.post("/login", data={"user_id": user_id})
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def fetch_token(client: httpx.Client) -> str:
    response = client.get("/rollout-token")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token: str = response.json()["token"]
    return token


pytestmark = pytest.mark.server


def test_logged_out_visitors_get_no_token_and_the_login_page(browser_like: httpx.Client) -> None:
    response = browser_like.get("/rollout-token")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    for page in ("/", "/react"):
        redirect = browser_like.get(page)
        assert redirect.status_code == 303
        assert redirect.headers["location"] == f"/login?next={page}"
    login = browser_like.get("/login")
    assert login.status_code == 200
    for user_id in ("user-ada", "user-grace", "user-alan"):
        assert f'value="{user_id}"' in login.text


def test_a_token_for_the_logged_in_user_that_the_stand_in_accepts(
    browser_like: httpx.Client,
) -> None:
    log_in(browser_like, "user-ada")
    token = fetch_token(browser_like)
    claims = verify_token(token, ttl=TTL)
    assert claims["sub"] == "user-ada"
    api = browser_like.get(
        "/rollout-api/credentials",
        params={"includeProfile": "true"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 200
    assert [c["label"] for c in api.json()] == [
        "Ada's Follow Up Boss",
        "Lovelace Realty on dotloop",
    ]
    seen = browser_like.get("/rollout-api/_stand-in/requests").json()
    assert [(r["path"], r["token"], r["subject"], r["status"]) for r in seen] == [
        ("/credentials", token, "user-ada", 200)
    ]


def test_logging_out_and_in_as_another_user_changes_the_sub(browser_like: httpx.Client) -> None:
    log_in(browser_like, "user-ada")
    assert verify_token(fetch_token(browser_like), ttl=TTL)["sub"] == "user-ada"
    assert browser_like.post("/logout").headers["location"] == "/login"
    assert browser_like.get("/rollout-token").status_code == 401
    log_in(browser_like, "user-grace")
    token = fetch_token(browser_like)
    assert verify_token(token, ttl=TTL)["sub"] == "user-grace"
    api = browser_like.get("/rollout-api/credentials", headers={"Authorization": f"Bearer {token}"})
    assert [c["appKey"] for c in api.json()] == ["hubspot", "gmail"]


def test_the_stand_in_refuses_a_token_after_a_forced_expiry(browser_like: httpx.Client) -> None:
    log_in(browser_like, "user-alan")
    token = fetch_token(browser_like)
    headers = {"Authorization": f"Bearer {token}"}
    assert browser_like.post("/rollout-api/_stand-in/force-401").status_code == 200
    refused = browser_like.get("/rollout-api/credentials", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["message"].startswith("Invalid token")
    assert browser_like.get("/rollout-api/credentials", headers=headers).json() == []


@pytest.mark.parametrize(
    ("next_page", "location"),
    [("/react", "/react"), ("/", "/"), ("https://evil.example/", "/"), ("//evil.example", "/")],
)
def test_login_goes_back_to_a_page_of_this_app_only(
    browser_like: httpx.Client, next_page: str, location: str
) -> None:
    assert f'value="{location}"' in browser_like.get("/login", params={"next": next_page}).text
    response = browser_like.post("/login", data={"user_id": "user-ada", "next": next_page})
    assert response.headers["location"] == location


def test_unknown_users_cannot_log_in(browser_like: httpx.Client) -> None:
    assert browser_like.post("/login", data={"user_id": "mallory"}).status_code == 400
    assert browser_like.post("/login", data={}).status_code == 400
    assert browser_like.get("/rollout-token").status_code == 401


def test_pages_carry_the_api_base_url_and_never_the_secret(browser_like: httpx.Client) -> None:
    log_in(browser_like, "user-ada")
    page = browser_like.get("/")
    assert page.status_code == 200
    assert '"apiBaseUrl": "/rollout-api"' in page.text
    assert '<script src="/static/plain.js"></script>' in page.text
    assert '<link rel="stylesheet" href="/static/demo.css">' in page.text
    assert SECRET not in page.text
    assert "Demo mode" not in page.text  # real (test) credentials were given
    script = browser_like.get("/static/plain.js")
    assert script.status_code == 200
    assert 'fetch("/rollout-token")' in script.text
    assert browser_like.get("/static/demo.css").headers["content-type"].startswith("text/css")


@pytest.mark.slow
def test_demo_mode_without_credentials() -> None:
    port = free_port()
    argv = [PYTHON, str(SERVER), "--port", str(port), "--quiet"]
    env = {"ROLLOUT_CLIENT_ID": "", "ROLLOUT_CLIENT_SECRET": ""}
    with (
        running_server(argv, port, env=env, ready_path="/login") as url,
        httpx.Client(base_url=url) as client,
    ):
        assert "Demo mode" in client.get("/login").text
        log_in(client, "user-grace")
        token = fetch_token(client)
        api = client.get("/rollout-api/credentials", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200
        assert client.get("/rollout-api/_stand-in/requests").json()[0]["subject"] == "user-grace"
        # The throwaway secret is not ours: our independent check must refuse the signature.
        with pytest.raises(AssertionError, match="bad signature"):
            verify_token(token, client_id="demo-client")


# -- configuration, in process --------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    return argparse.Namespace(
        api_base_url=argv[argv.index("--api-base-url") + 1] if "--api-base-url" in argv else None,
        stand_in="--stand-in" in argv,
        ttl=900,
    )


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ((), {}, ("demo-client", "/rollout-api", True, True)),
        ((), {"ROLLOUT_CLIENT_ID": "id"}, ("demo-client", "/rollout-api", True, True)),
        (
            (),
            {"ROLLOUT_CLIENT_ID": "id", "ROLLOUT_CLIENT_SECRET": "s" * 64},
            ("id", "https://universal.rollout.com/api", False, False),
        ),
        (
            (),
            {
                "ROLLOUT_CLIENT_ID": "id",
                "ROLLOUT_CLIENT_SECRET": "s" * 64,
                "ROLLOUT_API_BASE_URL": "https://proxy.example/api",
            },
            ("id", "https://proxy.example/api", False, False),
        ),
        (
            ("--api-base-url", "https://other.example/api"),
            {"ROLLOUT_CLIENT_ID": "id", "ROLLOUT_CLIENT_SECRET": "s" * 64},
            ("id", "https://other.example/api", False, False),
        ),
        (
            ("--stand-in",),
            {"ROLLOUT_CLIENT_ID": "id", "ROLLOUT_CLIENT_SECRET": "s" * 64},
            ("id", "/rollout-api", True, False),
        ),
    ],
)
def test_configuration(
    argv: tuple[str, ...], environ: dict[str, str], expected: tuple[str, str, bool, bool]
) -> None:
    config = load_example().load_config(parse(*argv), environ)
    assert (config.client_id, config.api_base_url, config.stand_in, config.demo_credentials) == (
        expected
    )
    if config.demo_credentials:
        assert len(config.client_secret) >= 64


def test_with_real_credentials_no_stand_in_is_mounted() -> None:
    example = load_example()
    config = example.DemoConfig("id", "s" * 64, "https://universal.rollout.com/api", False, False)
    with TestClient(example.build_app(config), base_url="http://127.0.0.1") as client:
        assert client.get("/rollout-api/connectors").status_code == 404
        client.post("/login", data={"user_id": "user-ada"})
        page = client.get("/").text
    assert '"apiBaseUrl": "https://universal.rollout.com/api"' in page
    assert '"standInControls": false' in page


def test_react_page_explains_the_build_when_it_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example()
    monkeypatch.setattr(example, "REACT_DIST", tmp_path / "dist")
    config = example.DemoConfig("id", "s" * 64, "/rollout-api", True, False)
    with TestClient(example.build_app(config), base_url="http://127.0.0.1") as client:
        client.post("/login", data={"user_id": "user-ada"})
        page = client.get("/react").text
    assert "npm run build" in page
    assert "/react-link/app.js" not in page
