"""Django under real servers on 127.0.0.1: uvicorn (ASGI), gunicorn and waitress (WSGI).

The project's own ``asgi.py`` and ``wsgi.py`` (one line of wiring each) are served as they are.
With ``settings`` (integer user pk) the servers share the test process's SQLite file, so a user
logged in through Django's test client is logged in there. With ``settings_uuid`` (a custom user
model with a UUID pk) everything happens over HTTP: ``createsuperuser``, then the login form.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.django_project.testing import (
    SETTINGS,
    SETTINGS_UUID,
    ensure_django,
    login_cookies,
    login_over_http,
    make_user,
    new_password,
    server_env,
    uuid_database_with_user,
)
from tests.support import PYTHON, free_port, running_server, verify_token

pytestmark = pytest.mark.server

ASGI_APP = "tests.django_project.asgi:application"
WSGI_APP = "tests.django_project.wsgi:application"


def _uvicorn(port: int) -> list[str]:
    return [PYTHON, "-m", "uvicorn", ASGI_APP, "--host", "127.0.0.1", "--port", str(port)]


def _gunicorn(port: int) -> list[str]:
    return [PYTHON, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", WSGI_APP]


def _waitress(port: int) -> list[str]:
    return [PYTHON, "-m", "waitress", "--listen", f"127.0.0.1:{port}", WSGI_APP]


SERVERS = {"uvicorn": _uvicorn, "gunicorn": _gunicorn, "waitress": _waitress}


@contextlib.contextmanager
def _serve(name: str, db_path: Path, settings_module: str) -> Iterator[str]:
    port = free_port()
    with running_server(
        SERVERS[name](port), port, env=server_env(db_path, settings_module), ready_path="/hello/"
    ) as url:
        yield url


@pytest.fixture(scope="module", params=["uvicorn", "gunicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    with _serve(request.param, ensure_django(), SETTINGS) as url:
        yield url


def test_token_for_a_user_logged_in_with_the_test_client(server: str) -> None:
    password = new_password()
    user = make_user(password=password)
    cookies = login_cookies(user.get_username(), password)
    with httpx.Client(base_url=server, cookies=cookies) as client:
        for path in ("/rollout-token", "/view/rollout-token"):
            response = client.get(path)
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == "no-store"
            assert verify_token(response.json()["token"])["sub"] == str(user.pk)
        assert client.get("/hello/").text == f"hello {user.get_username()}"

        user.set_password(new_password())
        user.save()
        for path in ("/rollout-token", "/view/rollout-token"):
            assert client.get(path).status_code == 401
        assert client.get("/hello/").text == "hello anonymous"


def test_anonymous_and_forged_sessions_get_401(server: str) -> None:
    for cookies in ({}, {"sessionid": "x" * 32}):
        with httpx.Client(base_url=server, cookies=cookies) as client:
            response = client.get("/rollout-token")
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"


def test_the_rest_of_the_site_is_served(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        assert client.get("/static/app.txt").text == "static file served by whitenoise\n"
        assert client.get("/admin/login/").status_code == 200
        assert client.get("/admin/").status_code == 302
        assert client.post("/echo/", data={"value": "x"}).status_code == 403
        assert client.get("/rollout-token/").status_code == 404


# --- A custom user model with a UUID primary key, everything over HTTP ---------------------------


@pytest.fixture(scope="module")
def uuid_db() -> tuple[Path, str, str, str]:
    password = new_password()
    db_path, pk = uuid_database_with_user("uuid-user", password)
    return db_path, "uuid-user", password, pk


@pytest.mark.parametrize("name", ["uvicorn", "waitress"])
def test_uuid_primary_key_through_the_login_form(
    name: str, uuid_db: tuple[Path, str, str, str]
) -> None:
    db_path, username, password, pk = uuid_db
    with _serve(name, db_path, SETTINGS_UUID) as url, httpx.Client(base_url=url) as client:
        assert client.get("/rollout-token").status_code == 401
        login_over_http(client, username, password)
        for path in ("/rollout-token", "/view/rollout-token"):
            response = client.get(path)
            assert response.status_code == 200, response.text
            assert verify_token(response.json()["token"])["sub"] == pk
        assert len(pk) == 36
        assert client.get("/hello/").text == f"hello {username}"
