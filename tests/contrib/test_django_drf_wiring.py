"""The middleware and DRF's view in one project (issue 22, items 9 and 10), as Django users test:
the test client, DRF's ``APIClient``, ``override_settings``.

The middleware for the browser's session, DRF's view for API clients (a simplejwt JWT) at a path
of its own; the view at the middleware's path is never reached (system check ``W002``); the
middleware above ``AuthenticationMiddleware`` is refused as Django loads it, saying to move it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.django_project.testing import ensure_django, make_user, new_password
from tests.support import verify_token

OURS = "rollout_middleware.contrib.django.RolloutTokenMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


def _middleware(*, above_auth: bool = False) -> list[str]:
    from django.conf import settings

    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(AUTH) + (0 if above_auth else 1), OURS)
    return middleware


def _jwt_client(user: Any) -> Any:
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def _checks() -> list[Any]:
    from django.core.checks import run_checks

    return [m for m in run_checks(tags=["urls"]) if m.id.startswith("rollout_middleware.")]


def test_session_middleware_and_drf_view_at_its_own_path() -> None:
    """docs/drf.md beside docs/django.md: both answer, each for its own users."""
    from django.test import Client, override_settings

    user = make_user(password=new_password())
    with override_settings(MIDDLEWARE=_middleware(), ROOT_URLCONF="tests.django_project.urls_api"):
        api = _jwt_client(user).get("/api/rollout-token")
        browser = Client()
        browser.force_login(user)
        page = browser.get("/rollout-token")
        # A JWT at the middleware's path: the middleware sees no session user.
        jwt_at_middleware_path = _jwt_client(user).get("/rollout-token")
        assert _checks() == []
    assert api.status_code == 200, api.content
    assert verify_token(api.json()["token"])["sub"] == str(user.pk)
    assert page.status_code == 200
    assert verify_token(page.json()["token"])["sub"] == str(user.pk)
    assert jwt_at_middleware_path.status_code == 401


def test_a_view_at_the_middleware_path_is_a_warning() -> None:
    """DRF's view at ``rollout-token`` beside the middleware is never reached: a valid JWT gets
    the middleware's 401. The system check says so."""
    from django.test import override_settings

    user = make_user(password=new_password())
    with override_settings(
        MIDDLEWARE=_middleware(), ROOT_URLCONF="tests.django_project.urls_shadowed"
    ):
        assert _jwt_client(user).get("/rollout-token").status_code == 401
        (warning,) = _checks()
    assert warning.id == "rollout_middleware.W002"
    assert "'/rollout-token'" in warning.msg
    assert "rollout_middleware.contrib.drf.RolloutTokenAPIView" in warning.msg
    assert "never reached" in warning.msg
    assert "api/rollout-token" in warning.hint


def test_the_warning_follows_rollout_token_path() -> None:
    from django.test import override_settings

    with override_settings(
        MIDDLEWARE=_middleware(),
        ROOT_URLCONF="tests.django_project.urls_api",
        ROLLOUT_TOKEN_PATH="/api/rollout-token",
    ):
        (warning,) = _checks()
    assert "'/api/rollout-token'" in warning.msg


def test_a_view_at_that_path_without_the_middleware_is_fine() -> None:
    from django.test import override_settings

    with override_settings(ROOT_URLCONF="tests.django_project.urls_shadowed"):
        assert _checks() == []


@pytest.mark.parametrize("how", ["Client", "AsyncClient", "WSGIHandler", "ASGIHandler"])
def test_the_middleware_above_authentication_is_refused_saying_to_move_it(how: str) -> None:
    """Issue 22, item 9: Django's test client and handlers load MIDDLEWARE, which refuses it."""
    from django.core.exceptions import ImproperlyConfigured
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import AsyncClient, Client, override_settings

    load = {
        "Client": lambda: Client().get("/hello/"),
        "AsyncClient": lambda: asyncio.run(AsyncClient().get("/hello/")),
        "WSGIHandler": WSGIHandler,
        "ASGIHandler": ASGIHandler,
    }[how]
    with (
        override_settings(MIDDLEWARE=_middleware(above_auth=True)),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        load()
    assert str(caught.value) == (
        "RolloutTokenMiddleware comes before AuthenticationMiddleware in MIDDLEWARE, so "
        f"request.user is not set when it answers: move {OURS!r} after {AUTH!r}"
    )
