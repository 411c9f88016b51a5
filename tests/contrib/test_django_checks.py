"""Django's system checks of the ``ROLLOUT_*`` settings, and the wiring that refuses a mix-up.

In process with ``django.core.checks.run_checks`` (every setting), and as ``manage.py check``
(``python -m django check``) in a subprocess on a real settings module.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollout_middleware import TokenIssuer
from tests.django_project.testing import ensure_django
from tests.support import CLIENT_ID, PYTHON, SECRET, free_port, subprocess_env, suite_only_dir

OURS = "rollout_middleware.contrib.django.RolloutTokenMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


def _ours(**overrides: Any) -> list[Any]:
    from django.core.checks import run_checks
    from django.test import override_settings

    with override_settings(**overrides):
        return list(run_checks(tags=["rollout_middleware"]))


def test_the_project_passes() -> None:
    assert _ours() == []


@pytest.mark.parametrize(
    ("overrides", "check_id", "setting"),
    [
        ({"ROLLOUT_TOKEN_TTL": "soon"}, "E002", "ROLLOUT_TOKEN_TTL"),
        ({"ROLLOUT_TOKEN_TTL": 0}, "E002", "ROLLOUT_TOKEN_TTL"),
        ({"ROLLOUT_CLIENT_ID": 12}, "E001", "ROLLOUT_CLIENT_ID"),
        ({"ROLLOUT_CLIENT_SECRET": 42}, "E001", "ROLLOUT_CLIENT_SECRET"),
        ({"ROLLOUT_TOKEN_PATH": "rollout-token"}, "E003", "ROLLOUT_TOKEN_PATH"),
        ({"ROLLOUT_TOKEN_METHODS": "get"}, "E004", "ROLLOUT_TOKEN_METHODS"),
        ({"ROLLOUT_ALLOWED_ORIGINS": ["https://a.example/"]}, "E005", "ROLLOUT_ALLOWED_ORIGINS"),
        ({"ROLLOUT_MAX_BODY_SIZE": "64k"}, "E006", "ROLLOUT_MAX_BODY_SIZE"),
        ({"ROLLOUT_ON_ISSUE": "no.such.module.hook"}, "E007", "ROLLOUT_ON_ISSUE"),
        ({"ROLLOUT_ON_ISSUE": 3}, "E007", "ROLLOUT_ON_ISSUE"),
        (
            {"ROLLOUT_ISSUER": object(), "ROLLOUT_CLIENT_ID": None, "ROLLOUT_CLIENT_SECRET": None},
            "E008",
            "ROLLOUT_ISSUER",
        ),
        # An issuer and the credentials it replaces: which one is meant?
        ({"ROLLOUT_ISSUER": TokenIssuer(CLIENT_ID, SECRET)}, "E008", "ROLLOUT_ISSUER"),
    ],
)
def test_a_wrong_setting_is_an_error_with_an_id_and_a_hint(
    overrides: dict[str, Any], check_id: str, setting: str
) -> None:
    from django.core.checks import Error

    (message,) = _ours(**overrides)
    assert isinstance(message, Error)
    assert message.id == f"rollout_middleware.{check_id}"
    assert setting in message.msg
    assert message.hint.startswith(f"{setting} accepts ")
    assert SECRET not in str(message)


def test_missing_credentials_are_a_deploy_error_unless_the_environment_has_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.core.checks import run_checks
    from django.test import override_settings

    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    assert _ours(ROLLOUT_CLIENT_ID=None, ROLLOUT_CLIENT_SECRET=None) == []  # not without --deploy
    with override_settings(ROLLOUT_CLIENT_ID=None, ROLLOUT_CLIENT_SECRET=None):
        deploy = [m for m in run_checks(include_deployment_checks=True) if "rollout" in m.id]
        (message,) = deploy
        assert message.id == "rollout_middleware.E009"
        assert "set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET" in message.msg
        monkeypatch.setenv("ROLLOUT_CLIENT_ID", "env-client")
        monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
        assert [m for m in run_checks(include_deployment_checks=True) if "rollout" in m.id] == []


def test_every_wrong_setting_is_reported_at_once() -> None:
    ids = sorted(m.id for m in _ours(ROLLOUT_TOKEN_TTL="soon", ROLLOUT_TOKEN_PATH="x"))
    assert ids == ["rollout_middleware.E002", "rollout_middleware.E003"]


def test_an_unknown_setting_is_a_warning_naming_the_nearest() -> None:
    from django.core.checks import Warning

    (message,) = _ours(ROLLOUT_TTL=60)
    assert isinstance(message, Warning)
    assert message.id == "rollout_middleware.W001"
    assert "ROLLOUT_TTL" in message.msg
    assert message.hint == "Did you mean ROLLOUT_TOKEN_TTL?"


def test_the_middleware_before_authentication_is_an_error() -> None:
    from django.conf import settings

    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(AUTH), OURS)
    (message,) = _ours(MIDDLEWARE=middleware)
    assert message.id == "rollout_middleware.E010"
    middleware.remove(OURS)
    middleware.insert(middleware.index(AUTH) + 1, OURS)
    assert _ours(MIDDLEWARE=middleware) == []


def _manage_check(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m django check`` on the test project's settings plus ``extra``."""
    (tmp_path / "check_settings.py").write_text(
        "from tests.django_project.settings import *  # noqa\n" + extra
    )
    env = subprocess_env(
        {
            "PYTHONPATH": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "check_settings",
            "ROLLOUT_DJANGO_TEST_DB": str(tmp_path / "db.sqlite3"),
        }
    )
    return subprocess.run(
        [PYTHON, "-m", "django", "check"],
        cwd=suite_only_dir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_manage_py_check_reports_a_wrong_and_a_misspelled_setting(tmp_path: Path) -> None:
    done = _manage_check(tmp_path, 'ROLLOUT_TOKEN_TTL = "soon"\nROLLOUT_TTL = 60\n')
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "rollout_middleware.E002" in output
    assert "ROLLOUT_TOKEN_TTL accepts an int" in output
    assert "rollout_middleware.W001" in output
    assert "Did you mean ROLLOUT_TOKEN_TTL?" in output
    assert SECRET not in output


def test_manage_py_check_passes_the_project(tmp_path: Path) -> None:
    done = _manage_check(tmp_path, "")
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


# --- the wrappers refuse the wrong kind of application -----------------------------------------


def test_mixups_are_refused_saying_what_was_expected() -> None:
    from django.core.asgi import get_asgi_application
    from django.core.exceptions import ImproperlyConfigured
    from django.core.wsgi import get_wsgi_application

    from rollout_middleware.contrib.django import rollout_asgi, rollout_wsgi

    cases: list[tuple[Any, Any, str]] = [
        (rollout_wsgi, get_asgi_application(), "use rollout_asgi(get_asgi_application())"),
        (rollout_asgi, get_asgi_application, "call it: rollout_asgi(get_asgi_application())"),
        (rollout_asgi, get_wsgi_application(), "use rollout_wsgi(get_wsgi_application())"),
        (rollout_wsgi, get_wsgi_application, "call it: rollout_wsgi(get_wsgi_application())"),
        (rollout_wsgi, None, "rollout_wsgi(get_wsgi_application())"),
    ]
    for wrap, app, expected in cases:
        with pytest.raises(ImproperlyConfigured) as caught:
            wrap(app)
        assert expected in str(caught.value)
        assert "expects a" in str(caught.value)


# --- with the middleware in MIDDLEWARE, a server refuses to start on a wrong setting ------------


@pytest.mark.server
@pytest.mark.parametrize(
    "server",
    [
        ["-m", "gunicorn", "-w", "1", "tests.django_project.plain_wsgi:application"],
        ["-m", "uvicorn", "tests.django_project.plain_asgi:application"],
    ],
    ids=["gunicorn", "uvicorn"],
)
def test_a_server_refuses_to_start_on_a_wrong_setting(tmp_path: Path, server: list[str]) -> None:
    """Django builds ``MIDDLEWARE`` when the server loads the application: the middleware
    refuses a wrong setting there, naming it, and the server exits."""
    (tmp_path / "check_settings.py").write_text(
        "from tests.django_project.settings_middleware import *  # noqa\n"
        "ROLLOUT_TOKEN_TTL = 'soon'\n"
    )
    port = free_port()
    host = ["--host", "127.0.0.1", "--port", str(port)] if "uvicorn" in server else []
    bind = ["-b", f"127.0.0.1:{port}"] if "gunicorn" in server else []
    done = subprocess.run(
        [PYTHON, *server, *bind, *host],
        cwd=suite_only_dir(),
        env=subprocess_env(
            {
                "PYTHONPATH": str(tmp_path),
                "DJANGO_SETTINGS_MODULE": "check_settings",
                "ROLLOUT_DJANGO_TEST_DB": str(tmp_path / "db.sqlite3"),
            }
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert (
        "ImproperlyConfigured: ROLLOUT_TOKEN_TTL (settings): ttl must be a whole number" in output
    )
    assert SECRET not in output
