"""Django: the ROLLOUT_* settings, read at wiring time and validated; the resolvers' details."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.django_project.testing import (
    MIDDLEWARE_WAYS,
    build_app,
    ensure_django,
    get_token,
    login_cookies,
    make_user,
    new_password,
    send,
)
from tests.support import CLIENT_ID, PYTHON, SECRET, suite_only_dir, verify_token


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


def _wirings() -> dict[str, Callable[[], object]]:
    from django.core.asgi import get_asgi_application
    from django.core.wsgi import get_wsgi_application

    from rollout_middleware.contrib import django as contrib

    return {
        "rollout_asgi": lambda: contrib.rollout_asgi(get_asgi_application()),
        "rollout_wsgi": lambda: contrib.rollout_wsgi(get_wsgi_application()),
        "RolloutTokenView": contrib.RolloutTokenView,
        "token_urlpatterns": _without_the_app(contrib.token_urlpatterns),
    }


def _without_the_app(wire: Callable[[], object]) -> Callable[[], object]:
    """``wire`` in a project without the app: with it, the system checks report wrong settings
    and the URLconf does not raise for them (tests/contrib/test_django_checks.py)."""
    from django.test import modify_settings

    def wired() -> object:
        with modify_settings(INSTALLED_APPS={"remove": ["rollout_middleware.contrib.django"]}):
            return wire()

    return wired


@pytest.fixture(params=["rollout_asgi", "rollout_wsgi", "RolloutTokenView", "token_urlpatterns"])
def wire(request: pytest.FixtureRequest) -> Callable[[], object]:
    return _wirings()[request.param]


@pytest.fixture
def no_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)


def test_project_credentials_are_those_of_the_test_support() -> None:
    from django.conf import settings

    assert (settings.ROLLOUT_CLIENT_ID, settings.ROLLOUT_CLIENT_SECRET) == (CLIENT_ID, SECRET)


def test_importing_the_module_reads_no_settings() -> None:
    """Importing before ``django.setup()`` (as ``asgi.py`` does) must not touch the settings."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import rollout_middleware.contrib.django\n"
        "from django.conf import settings\n"
        "assert not settings.configured, 'settings were read at import time'\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", code],
        cwd=suite_only_dir(),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"ROLLOUT_CLIENT_ID": 12}, "ROLLOUT_CLIENT_ID"),
        ({"ROLLOUT_CLIENT_SECRET": 12}, "ROLLOUT_CLIENT_SECRET"),
        ({"ROLLOUT_TOKEN_TTL": "soon"}, "ROLLOUT_TOKEN_TTL"),
        ({"ROLLOUT_TOKEN_TTL": 0}, "ROLLOUT_TOKEN_TTL"),
        ({"ROLLOUT_TOKEN_TTL": 3601}, "ROLLOUT_TOKEN_TTL"),
        ({"ROLLOUT_TOKEN_PATH": "rollout-token"}, "ROLLOUT_TOKEN_PATH"),
        ({"ROLLOUT_TOKEN_PATH": 5}, "ROLLOUT_TOKEN_PATH"),
        ({"ROLLOUT_TOKEN_METHODS": "get"}, "ROLLOUT_TOKEN_METHODS"),
        ({"ROLLOUT_TOKEN_METHODS": ("OPTIONS",)}, "ROLLOUT_TOKEN_METHODS"),
        ({"ROLLOUT_ALLOWED_ORIGINS": ("https://app.example/",)}, "ROLLOUT_ALLOWED_ORIGINS"),
    ],
)
def test_a_wrong_setting_is_improperly_configured_at_wiring_time(
    wire: Callable[[], object],
    overrides: dict[str, Any],
    setting: str,
    no_env_credentials: None,
) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    with override_settings(**overrides), pytest.raises(ImproperlyConfigured) as caught:
        wire()
    message = str(caught.value)
    assert setting in message
    assert SECRET not in message


def test_wiring_needs_no_credentials(wire: Callable[[], object], no_env_credentials: None) -> None:
    from django.test import override_settings

    with override_settings(ROLLOUT_CLIENT_ID=None, ROLLOUT_CLIENT_SECRET=None):
        wire()


def test_the_secret_is_never_in_an_error_message(wire: Callable[[], object]) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    secret = "a-secret-that-must-not-leak-" + uuid.uuid4().hex
    for bad in ({"ROLLOUT_TOKEN_TTL": -1}, {"ROLLOUT_CLIENT_ID": 7}, {"ROLLOUT_TOKEN_PATH": "x"}):
        with (
            override_settings(ROLLOUT_CLIENT_SECRET=secret, **bad),
            pytest.raises(ImproperlyConfigured) as caught,
        ):
            wire()
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)


def test_credentials_fall_back_to_the_environment(
    shell: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.test import override_settings

    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "env-client")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET + "-env")
    user, cookies = _logged_in()
    with override_settings(ROLLOUT_CLIENT_ID=None, ROLLOUT_CLIENT_SECRET=None):
        token = get_token(shell, cookies).json()["token"]
    claims = verify_token(token, client_id="env-client", secret=SECRET + "-env")
    assert claims["sub"] == str(user.pk)


def test_settings_win_over_the_environment(shell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "env-client")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET + "-env")
    _, cookies = _logged_in()
    verify_token(get_token(shell, cookies).json()["token"], client_id=CLIENT_ID, secret=SECRET)


@pytest.fixture(params=MIDDLEWARE_WAYS)
def shell(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _logged_in() -> tuple[Any, dict[str, str]]:
    password = new_password()
    user = make_user(password=password)
    return user, login_cookies(user.get_username(), password)


@pytest.mark.parametrize("timeout", [None, 2.5])
@pytest.mark.parametrize("wiring", ["rollout_asgi", "rollout_wsgi"])
def test_resolver_timeout_is_kept_none_included(wiring: str, timeout: float | None) -> None:
    from django.core.asgi import get_asgi_application
    from django.core.wsgi import get_wsgi_application

    from rollout_middleware.contrib import django as contrib

    if wiring == "rollout_asgi":
        shell: Any = contrib.rollout_asgi(get_asgi_application(), resolver_timeout=timeout)
    else:
        shell = contrib.rollout_wsgi(get_wsgi_application(), resolver_timeout=timeout)
    assert shell._decision.settings.resolver_timeout == timeout


def test_token_path_and_ttl_settings(shell: str) -> None:
    from django.test import override_settings

    user, cookies = _logged_in()
    with override_settings(ROLLOUT_TOKEN_PATH="/api/rollout/token", ROLLOUT_TOKEN_TTL=60):
        app = build_app(shell)
        response = send(shell, "GET", "/api/rollout/token", cookies=cookies, app=app)
        claims = verify_token(response.json()["token"], ttl=60)
        assert claims["sub"] == str(user.pk)
        assert response.json()["expires_in"] == 60
        # The default path now belongs to Django, which has no such page.
        assert send(shell, "GET", "/rollout-token", cookies=cookies, app=app).status_code == 404


def test_token_urlpatterns_follows_token_path() -> None:
    from django.test import override_settings

    from rollout_middleware.contrib.django import token_urlpatterns, token_view

    with override_settings(ROLLOUT_TOKEN_PATH="/api/rollout/token"):
        (pattern,) = token_urlpatterns()
    assert str(pattern.pattern) == "api/rollout/token"
    assert pattern.name == "rollout-token"
    assert pattern.callback is token_view


def test_allowed_origins_setting_answers_the_preflight(shell: str) -> None:
    from django.test import override_settings

    with override_settings(ROLLOUT_ALLOWED_ORIGINS=("https://app.example",)):
        preflight = send(
            shell,
            "OPTIONS",
            "/rollout-token",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"


# --- user_id_of and the resolvers ---------------------------------------------------------------


def test_user_id_of() -> None:
    from django.contrib.auth.models import AnonymousUser, User

    from rollout_middleware.contrib.django import user_id_of

    class UuidUser:
        is_authenticated = True
        is_active = True
        pk = uuid.UUID("12345678-1234-5678-1234-567812345678")

    assert user_id_of(User(pk=42, is_active=True)) == 42
    assert user_id_of(User(pk=42, is_active=False)) is None
    assert user_id_of(User(pk=None)) is None
    assert user_id_of(AnonymousUser()) is None
    assert user_id_of(None) is None
    assert user_id_of(UuidUser()) == UuidUser.pk  # the core's rule makes it "1234...5678"


def test_scope_resolver_joins_several_cookie_headers() -> None:
    """HTTP/2 may split ``Cookie`` into several headers: the session cookie is found in any."""
    from rollout_middleware.contrib.django import user_id_from_scope

    user, cookies = _logged_in()
    ((name, value),) = cookies.items()
    scope = {
        "type": "http",
        "headers": [(b"cookie", b"theme=dark"), (b"cookie", f"{name}={value}".encode())],
    }
    assert asyncio.run(user_id_from_scope(scope)) == user.pk
    assert asyncio.run(user_id_from_scope({"type": "http", "headers": []})) is None


def test_database_connections_are_closed_after_each_lookup(shell: str) -> None:
    """The lookup closes its connection as Django's request cycle would (``CONN_MAX_AGE = 0``)."""
    from django.db.backends.signals import connection_created

    _, cookies = _logged_in()
    app = build_app(shell)
    opened: list[Any] = []

    def record(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(connection)

    connection_created.connect(record)
    try:
        assert get_token(shell, cookies, app=app).status_code == 200
    finally:
        connection_created.disconnect(record)
    assert opened, "the lookup did not use the database"
    assert all(connection.connection is None for connection in opened)


def test_one_shot_iterables_in_settings_are_read_once(shell: str) -> None:
    from django.test import override_settings

    _, cookies = _logged_in()
    with override_settings(ROLLOUT_TOKEN_METHODS=(m for m in ["POST"])):
        app = build_app(shell)
    assert send(shell, "POST", "/rollout-token", cookies=cookies, app=app).status_code == 200
    assert send(shell, "GET", "/rollout-token", cookies=cookies, app=app).status_code == 405
