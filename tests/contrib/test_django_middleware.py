"""``RolloutTokenMiddleware`` in a real Django project: the test client (sync and async), Django's
ASGI and WSGI handlers, uvicorn and gunicorn; sessions, ``RemoteUserMiddleware``, mounts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import django
import httpx
import pytest
from asgiref.sync import iscoroutinefunction

from tests.django_project.testing import (
    BASE_URL,
    ensure_django,
    login_cookies,
    make_user,
    new_password,
    server_env,
)
from tests.support import PYTHON, free_port, running_server, verify_token

OURS = "rollout_middleware.contrib.django.RolloutTokenMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
REMOTE = "django.contrib.auth.middleware.RemoteUserMiddleware"


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


def _middleware(*after_auth: str) -> list[str]:
    """The project's MIDDLEWARE with ``after_auth`` inserted after AuthenticationMiddleware."""
    from django.conf import settings

    project = list(settings.MIDDLEWARE)
    at = project.index(AUTH) + 1
    return [*project[:at], *after_auth, *project[at:]]


@contextlib.contextmanager
def _with_middleware(*after_auth: str, **overrides: Any) -> Iterator[None]:
    from django.test import override_settings

    with override_settings(MIDDLEWARE=_middleware(*after_auth), **overrides):
        yield


def test_test_client_force_login() -> None:
    """The issue's first complaint: the test client, as every Django app's own tests use it."""
    from django.test import Client

    user = make_user(password=new_password())
    with _with_middleware(OURS):
        client = Client()
        client.force_login(user)
        response = client.get("/rollout-token")
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        assert verify_token(response.json()["token"])["sub"] == str(user.pk)
        client.logout()
        anonymous = client.get("/rollout-token")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"


def test_async_test_client_runs_the_async_path() -> None:
    """Django's AsyncClient runs the middleware chain async (``request.auser()`` on 5.0+)."""
    from django.test import AsyncClient

    user = make_user(password=new_password())
    with _with_middleware(OURS):
        client = AsyncClient()
        client.force_login(user)
        response = asyncio.run(client.get("/rollout-token"))
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == str(user.pk)


def test_inactive_user_and_password_change_get_no_token() -> None:
    from django.test import Client

    password = new_password()
    user = make_user(password=password)
    with _with_middleware(OURS):
        client = Client()
        client.cookies.load(login_cookies(user.get_username(), password))
        assert client.get("/rollout-token").status_code == 200
        user.set_password(new_password())  # Django's session hash: logged out everywhere
        user.save()
        assert client.get("/rollout-token").status_code == 401
        inactive = make_user(password=new_password(), is_active=False)
        client.force_login(
            inactive, backend="django.contrib.auth.backends.AllowAllUsersModelBackend"
        )
        assert client.get("/rollout-token").status_code == 401


def test_other_paths_pass_through() -> None:
    from django.test import Client

    user = make_user(password=new_password())
    with _with_middleware(OURS):
        client = Client()
        client.force_login(user)
        assert client.get("/hello/").content == f"hello {user.get_username()}".encode()
        # Exact match: a trailing slash is another path, Django's (which has no such page).
        assert client.get("/rollout-token/").status_code == 404


@pytest.mark.parametrize(
    "kind",
    [
        "sync",
        pytest.param(
            "async",
            marks=pytest.mark.skipif(
                django.VERSION < (5, 2),
                reason="RemoteUserMiddleware is async (reads HTTP_REMOTE_USER) from Django 5.2",
            ),
        ),
    ],
)
def test_remote_user_middleware(kind: str) -> None:
    """Authentication by Django's ``RemoteUserMiddleware``, which sets ``request.user`` to the
    user it logs in: under ASGI after ``request.auser()`` already cached the anonymous user."""
    from django.contrib.auth import get_user_model
    from django.test import AsyncClient, Client

    backends = ["django.contrib.auth.backends.RemoteUserBackend"]
    username = "remote-" + new_password()[3:15]
    with _with_middleware(REMOTE, OURS, AUTHENTICATION_BACKENDS=backends):
        if kind == "sync":
            response = Client().get("/rollout-token", REMOTE_USER=username)
        else:  # Django's async RemoteUserMiddleware reads the Remote-User header
            client = AsyncClient()
            response = asyncio.run(client.get("/rollout-token", headers={"Remote-User": username}))
    assert response.status_code == 200, response.content
    user = get_user_model().objects.get(username=username)
    assert verify_token(response.json()["token"])["sub"] == str(user.pk)


def test_sync_and_async_capable() -> None:
    """Django keeps the chain async under ASGI and sync under WSGI: no adapter around ours."""
    from rollout_middleware.contrib.django import RolloutTokenMiddleware

    async def async_view(request: Any) -> Any:
        raise AssertionError

    def sync_view(request: Any) -> Any:
        raise AssertionError

    assert RolloutTokenMiddleware.sync_capable
    assert RolloutTokenMiddleware.async_capable
    assert iscoroutinefunction(RolloutTokenMiddleware(async_view))
    assert not iscoroutinefunction(RolloutTokenMiddleware(sync_view))


def test_no_sync_async_adaptation_under_asgi(caplog: pytest.LogCaptureFixture) -> None:
    """Django logs (DEBUG, ``django.request``) each middleware it must adapt; ours is not one."""
    from django.core.handlers.asgi import ASGIHandler

    caplog.set_level(logging.DEBUG, logger="django.request")
    control = "tests.django_project.xuser.SyncOnlyMiddleware"
    with _with_middleware(control, OURS, DEBUG=True):  # Django logs adaptations with DEBUG only
        ASGIHandler()
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert [m for m in adapted if "SyncOnlyMiddleware" in m], "the control must be adapted"
    assert not [m for m in adapted if "RolloutTokenMiddleware" in m]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_relative_to_the_script_prefix(kind: str) -> None:
    """Mounted under /app (SCRIPT_NAME, ASGI root_path), the token is at /app/rollout-token."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    user = make_user(password=new_password())
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookies = {k: v.value for k, v in client.cookies.items()}
    with _with_middleware(OURS):
        if kind == "wsgi":
            wsgi = WSGIHandler()

            def mounted(environ: Any, start_response: Any) -> Any:
                environ = {**environ, "SCRIPT_NAME": "/app"}
                environ["PATH_INFO"] = environ["PATH_INFO"].removeprefix("/app")
                return wsgi(environ, start_response)

            transport: Any = httpx.WSGITransport(app=mounted)
            with httpx.Client(transport=transport, base_url=BASE_URL, cookies=cookies) as http:
                response = http.get("/app/rollout-token")
                nested = http.get("/app/app/rollout-token")  # /app/rollout-token for Django
        else:

            async def go() -> tuple[httpx.Response, httpx.Response]:
                transport = httpx.ASGITransport(app=ASGIHandler(), root_path="/app")
                async with httpx.AsyncClient(
                    transport=transport, base_url=BASE_URL, cookies=cookies
                ) as http:
                    return await http.get("/app/rollout-token"), await http.get("/app/hello/")

            response, hello = asyncio.run(go())
            assert hello.text == f"hello {user.get_username()}"
            nested = None
    assert response.status_code == 200, response.text
    assert verify_token(response.json()["token"])["sub"] == str(user.pk)
    if nested is not None:
        assert nested.status_code == 404


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
def test_a_wrong_setting_fails_when_django_loads_the_middleware(handler: str) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    with (
        _with_middleware(OURS, ROLLOUT_TOKEN_TTL="soon"),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        (WSGIHandler if handler == "wsgi" else ASGIHandler)()
    assert "ROLLOUT_TOKEN_TTL" in str(caught.value)
    assert "ttl must be a whole number, got 'soon'" in str(caught.value)


def test_project_middleware_headers_are_added_as_to_any_response() -> None:
    """The middleware listed above ours runs on the way out, as for any response (here
    SecurityMiddleware's Referrer-Policy); that listed below never sees the token path (here
    XFrameOptionsMiddleware). The answer itself is the package's."""
    from django.test import Client

    user = make_user(password=new_password())
    with _with_middleware(OURS):
        client = Client()
        client.force_login(user)
        response = client.get("/rollout-token")
    assert response["Referrer-Policy"] == "same-origin"
    assert "X-Frame-Options" not in response
    assert response["Content-Type"] == "application/json"


# --- real servers -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["uvicorn", "gunicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    if request.param == "uvicorn":
        argv = [PYTHON, "-m", "uvicorn", "tests.django_project.plain_asgi:application"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
    else:
        argv = [PYTHON, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1"]
        argv += ["tests.django_project.plain_wsgi:application"]
    env = server_env(ensure_django(), "tests.django_project.settings_middleware")
    with running_server(argv, port, env=env, ready_path="/hello/") as url:
        yield url


@pytest.mark.server
def test_real_servers(server: str) -> None:
    from rest_framework.authtoken.models import Token

    password = new_password()
    user = make_user(password=password)
    cookies = login_cookies(user.get_username(), password)
    with httpx.Client(base_url=server, cookies=cookies) as client:
        response = client.get("/rollout-token")
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert verify_token(response.json()["token"])["sub"] == str(user.pk)
        cross = client.get("/rollout-token", headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        assert client.get("/hello/").text == f"hello {user.get_username()}"
    other = make_user(password=new_password())
    key = Token.objects.create(user=other).key
    drf = httpx.get(server + "/drf/rollout-token", headers={"Authorization": f"Token {key}"})
    assert drf.status_code == 200, drf.text
    assert verify_token(drf.json()["token"])["sub"] == str(other.pk)
    assert httpx.get(server + "/rollout-token").status_code == 401


def test_django_version_is_supported() -> None:
    assert django.VERSION >= (4, 2)
