"""A process that serves no token never needs the Rollout secret.

Apps are built, tested, migrated and checked with no ``ROLLOUT_*`` anywhere; a token request there
is answered 503 (naming nothing) and logged at ERROR naming both variables; the deployment checks
(Django's ``check --deploy``, ``rollout-token check``) report them.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import CLIENT_ID, PYTHON, SECRET, subprocess_env, suite_only_dir, verify_token

MISSING = (
    "Cannot issue Rollout tokens (answered 503): the Rollout credentials are missing: "
    "set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET"
)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "rollout_middleware" and r.levelno >= logging.ERROR
    ]


def _assert_503(response: Any, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json() if callable(response.json) else response.json  # Flask: a property
    assert body["detail"] == "Rollout tokens are not available right now."
    body_bytes = response.data if hasattr(response, "data") else response.content  # Flask, else
    assert b"ROLLOUT" not in body_bytes
    assert _errors(caplog) == [MISSING]


# --- Django: setup, migrate, check, the test client; check --deploy reports them -----------------


@pytest.fixture
def django_settings(tmp_path: Path) -> dict[str, str]:
    """A project with the app installed and the middleware in MIDDLEWARE, and no ROLLOUT_*."""
    (tmp_path / "bare_settings.py").write_text(
        "from tests.django_project.settings_middleware import *  # noqa\n"
        "del ROLLOUT_CLIENT_ID, ROLLOUT_CLIENT_SECRET\n"
    )
    env = subprocess_env(
        {
            "PYTHONPATH": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "bare_settings",
            "ROLLOUT_DJANGO_TEST_DB": str(tmp_path / "db.sqlite3"),
        }
    )
    env.pop("ROLLOUT_CLIENT_ID", None)
    env.pop("ROLLOUT_CLIENT_SECRET", None)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *args],
        cwd=suite_only_dir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_django_sets_up_migrates_and_checks_without_credentials(
    django_settings: dict[str, str],
) -> None:
    script = (
        "import django\n"
        "django.setup()\n"
        "from django.core.wsgi import get_wsgi_application\n"
        "get_wsgi_application()  # builds MIDDLEWARE, ours included\n"
    )
    for args in (("-c", script), ("-m", "django", "migrate"), ("-m", "django", "check")):
        done = _run(django_settings, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "ROLLOUT_CLIENT" not in done.stderr


@pytest.mark.slow
def test_django_check_deploy_names_both_variables(django_settings: dict[str, str]) -> None:
    done = _run(django_settings, "-m", "django", "check", "--deploy")
    assert done.returncode != 0
    assert "rollout_middleware.E009" in done.stderr
    assert "set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET" in done.stderr
    django_settings.update(ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SECRET)
    assert (
        "rollout_middleware.E009"
        not in _run(django_settings, "-m", "django", "check", "--deploy").stderr
    )


def test_django_test_client_gets_503_and_the_log_names_both(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.django_project.testing import ensure_django

    ensure_django()
    from django.test import Client, override_settings

    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "rollout_middleware.contrib.django.RolloutTokenMiddleware",
    ]
    with override_settings(
        MIDDLEWARE=middleware, ROLLOUT_CLIENT_ID=None, ROLLOUT_CLIENT_SECRET=None
    ):
        from django.contrib.auth import get_user_model

        user, _ = get_user_model().objects.get_or_create(username="no-secret-user")
        client = Client()
        client.force_login(user)
        assert client.get("/hello/").status_code == 200
        _assert_503(client.get("/rollout-token"), caplog)


# --- Flask: an application factory, its CLI and its test client ----------------------------------


def _create_app() -> Any:
    from flask import Blueprint, Flask, session

    from rollout_middleware.contrib.flask import RolloutToken

    rollout = RolloutToken(resolve_user=lambda: session.get("user_id"))
    pages = Blueprint("pages", __name__)

    @pages.get("/")
    def index() -> str:
        return "home"

    @pages.get("/login/<name>")
    def login(name: str) -> str:
        session["user_id"] = name
        return "ok"

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config["SECRET_KEY"] = "flask-session-key"
        rollout.init_app(app)
        app.register_blueprint(pages)

        @app.cli.command("compile-translations")
        def compile_translations() -> None:
            print("compiled")

        return app

    return create_app()


def test_a_flask_factory_its_cli_and_its_test_client_need_no_credentials(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _create_app()
    result = app.test_cli_runner().invoke(args=["compile-translations"])
    assert (result.exit_code, result.output) == (0, "compiled\n")
    client = app.test_client()
    assert client.get("/").text == "home"
    client.get("/login/ada")
    _assert_503(client.get("/rollout-token"), caplog)
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)  # where the server has them
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    assert verify_token(client.get("/rollout-token").json["token"])["sub"] == "ada"


# --- Starlette and FastAPI: the app, its lifespan, its test client --------------------------------


def test_a_starlette_app_runs_its_lifespan_and_routes_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import contextlib

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from rollout_middleware import RolloutTokenMiddleware

    started: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        started.append("up")
        yield

    app = Starlette(
        routes=[Route("/", lambda request: PlainTextResponse("home"))],
        middleware=[Middleware(RolloutTokenMiddleware, resolve_user=lambda scope: "ada")],
        lifespan=lifespan,
    )
    with TestClient(app) as client:
        assert started == ["up"]
        assert client.get("/").text == "home"
        _assert_503(client.get("/rollout-token"), caplog)


def test_fastapi_takes_a_pydantic_settings_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from pydantic import SecretStr
    from pydantic_settings import BaseSettings

    from rollout_middleware.contrib.fastapi import rollout_token_router

    class AppSettings(BaseSettings):
        rollout_client_id: str = ""
        rollout_client_secret: SecretStr = SecretStr("")

    def current_user() -> str:
        return "ada"

    def build(settings: AppSettings) -> TestClient:
        app = FastAPI()
        app.include_router(
            rollout_token_router(
                current_user,
                client_id=settings.rollout_client_id,
                client_secret=settings.rollout_client_secret,
            )
        )
        return TestClient(app)

    assert build(AppSettings()).get("/rollout-token").status_code == 503  # a test's settings
    settings = AppSettings(rollout_client_id=CLIENT_ID, rollout_client_secret=SecretStr(SECRET))
    assert verify_token(build(settings).get("/rollout-token").json()["token"])["sub"] == "ada"
    assert SECRET not in repr(
        rollout_token_router(current_user, client_secret=SecretStr(SECRET)).routes
    )


# --- The CLI's check is where a deployment is checked ---------------------------------------------


@pytest.mark.skipif(
    tuple(int(p) for p in __import__("jwt").__version__.split(".")[:2]) < (2, 10),
    reason="the CLI's check needs PyJWT 2.10",
)
def test_rollout_token_check_fails_naming_both_variables() -> None:
    env = subprocess_env()
    env.pop("ROLLOUT_CLIENT_ID", None)
    env.pop("ROLLOUT_CLIENT_SECRET", None)
    done = _run(env, "-m", "rollout_middleware", "check")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "ROLLOUT_CLIENT_ID" in output
    assert "ROLLOUT_CLIENT_SECRET" in output


def test_an_issuer_given_beside_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A production environment has ROLLOUT_* set; an app that passes its own issuer still builds."""
    from flask import Flask

    from rollout_middleware import TokenIssuer
    from rollout_middleware.contrib.flask import RolloutToken

    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "from-the-environment")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    app = Flask(__name__)
    RolloutToken(app, resolve_user=lambda: "ada", issuer=TokenIssuer(CLIENT_ID, SECRET))
    token = app.test_client().get("/rollout-token").json["token"]
    assert verify_token(token, client_id=CLIENT_ID)["sub"] == "ada"
