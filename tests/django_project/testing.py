"""Helpers for the Django tests: one real project, one SQLite file, four ways to reach the token.

:func:`ensure_django` configures Django once per test process (``tests.django_project.settings``,
a database in a fresh temporary directory, migrated). The real servers the tests start get the same
``ROLLOUT_DJANGO_TEST_DB``, so a user logged in through the test client is logged in there too.

The four ways (:data:`WAYS`) to ask for a token, each a real Django application driven by httpx:

- ``asgi``: ``rollout_asgi(get_asgi_application())`` through ``httpx.ASGITransport``;
- ``wsgi``: ``rollout_wsgi(get_wsgi_application())`` through ``httpx.WSGITransport``, under
  ``wsgiref.validate.validator``;
- ``view-asgi`` / ``view-wsgi``: Django's own application, unwrapped, and ``token_view`` at
  ``/view/rollout-token`` (included with ``token_urlpatterns()``).

Each request builds its application anew, so ``override_settings`` blocks apply to the wiring too.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import httpx

from tests.support import PYTHON, subprocess_env, suite_only_dir

DB_ENV = "ROLLOUT_DJANGO_TEST_DB"
SETTINGS = "tests.django_project.settings"
SETTINGS_UUID = "tests.django_project.settings_uuid"
WAYS = ("asgi", "wsgi", "view-asgi", "view-wsgi")
MIDDLEWARE_WAYS = ("asgi", "wsgi")
BASE_URL = "http://testserver"

_db_path: Path | None = None


def _temp_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="rollout-django-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def ensure_django() -> Path:
    """Set Django up once for this process, on a migrated SQLite file; return the file's path."""
    global _db_path
    if _db_path is not None:
        return _db_path
    current = os.environ.get("DJANGO_SETTINGS_MODULE")
    if current not in (None, SETTINGS):
        raise RuntimeError(f"DJANGO_SETTINGS_MODULE is already {current!r} in this process")
    db_path = _temp_dir() / "db.sqlite3"
    os.environ[DB_ENV] = str(db_path)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    _db_path = db_path
    return db_path


def server_env(db_path: Path, settings_module: str = SETTINGS) -> dict[str, str]:
    """Environment of a real server (or ``manage.py`` command) on ``db_path``."""
    return {DB_ENV: str(db_path), "DJANGO_SETTINGS_MODULE": settings_module}


def run_django(code: str, env: Mapping[str, str], cwd: Path | None = None) -> str:
    """Run ``code`` in a fresh Python process after ``django.setup()``; return what it prints.

    The process runs in ``cwd`` (on its ``sys.path``; by default :func:`tests.support.suite_only_dir`) with
    ``tests`` importable, and the installed ``rollout_middleware``.
    """
    done = subprocess.run(
        [PYTHON, "-c", "import django\ndjango.setup()\n" + code],
        cwd=suite_only_dir() if cwd is None else cwd,
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the Django subprocess failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def uuid_database_with_user(username: str, password: str) -> tuple[Path, str]:
    """A migrated database for ``settings_uuid`` (a custom user model with a UUID pk) holding
    one user made by ``createsuperuser``; return it and the user's pk, read back with sqlite3."""
    db_path = _temp_dir() / "uuid.sqlite3"
    env = {**server_env(db_path, SETTINGS_UUID), "DJANGO_SUPERUSER_PASSWORD": password}
    run_django(
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        f"call_command('createsuperuser', interactive=False, username={username!r},"
        " email='a@example.com', verbosity=0)\n",
        env,
    )
    # sqlite3's ``with`` only commits: ``closing`` closes, or Python 3.13 warns (ResourceWarning).
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        row = db.execute("SELECT id FROM accounts_user WHERE username = ?", (username,)).fetchone()
    return db_path, str(uuid.UUID(row[0]))


def new_password() -> str:
    return "pw-" + uuid.uuid4().hex


def make_user(*, password: str, is_active: bool = True, is_staff: bool = False) -> Any:
    """A new user of the configured model, with a unique name."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username="u" + uuid.uuid4().hex[:12],
        password=password,
        is_staff=is_staff,
        is_superuser=is_staff,
    )
    if not is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return user


def login_cookies(username: str, password: str) -> dict[str, str]:
    """Log in through the project's login form with Django's test client; return its cookies."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def login_over_http(client: httpx.Client, username: str, password: str) -> None:
    """Log in through the real login form of a running server, CSRF token and all."""
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    token = client.cookies["csrftoken"]
    response = client.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": str(client.base_url) + "/accounts/login/"},
    )
    assert response.status_code == 302, response.text
    assert "sessionid" in client.cookies


def token_path(way: str) -> str:
    return "/view/rollout-token" if way.startswith("view") else "/rollout-token"


def build_app(way: str) -> Any:
    """The application for ``way``, built now from the current settings."""
    from django.core.asgi import get_asgi_application
    from django.core.wsgi import get_wsgi_application

    from rollout_middleware.contrib.django import rollout_asgi, rollout_wsgi

    if way == "asgi":
        return rollout_asgi(get_asgi_application())
    if way == "wsgi":
        return validator(rollout_wsgi(validator(get_wsgi_application())))
    if way == "view-asgi":
        return get_asgi_application()
    if way == "view-wsgi":
        return validator(get_wsgi_application())
    raise ValueError(way)


def send(
    way: str,
    method: str,
    path: str,
    *,
    cookies: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    app: Any = None,
) -> httpx.Response:
    """One request to the application of ``way`` (or to ``app``, built for that way)."""
    app = build_app(way) if app is None else app
    if way.endswith("asgi"):

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=BASE_URL,
                cookies=dict(cookies or {}),
            ) as client:
                response = await client.request(method, path, headers=headers, data=data)
                await response.aread()
                return response

        return asyncio.run(go())
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url=BASE_URL, cookies=dict(cookies or {})
    ) as client:
        return client.request(method, path, headers=headers, data=data)


def get_token(way: str, cookies: Mapping[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    return send(way, "GET", token_path(way), cookies=cookies, **kwargs)
