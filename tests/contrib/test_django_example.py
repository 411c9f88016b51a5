"""The Django example (examples/django_project) runs as documented and serves a token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.django_project.testing import login_over_http, new_password, run_django
from tests.support import CLIENT_ID, PYTHON, ROOT, SECRET, free_port, running_server, verify_token

pytestmark = [pytest.mark.server, pytest.mark.slow]

EXAMPLE = ROOT / "examples" / "django_project"


@pytest.mark.parametrize("server", ["uvicorn", "runserver"])
def test_example_login_page_and_token(tmp_path: Path, server: str) -> None:
    setup_env = {
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DJANGO_DB_PATH": str(tmp_path / "db.sqlite3"),
        "DJANGO_SUPERUSER_PASSWORD": new_password(),
        # migrate and createsuperuser need no Rollout credentials.
        "ROLLOUT_CLIENT_ID": "",
        "ROLLOUT_CLIENT_SECRET": "",
    }
    env = {**setup_env, "ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    # What docs/django.md says to run: migrate, then create a user.
    pk = run_django(
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "call_command('createsuperuser', interactive=False, username='demo',"
        " email='demo@example.com', verbosity=0)\n"
        "from django.contrib.auth import get_user_model\n"
        "print(get_user_model().objects.get(username='demo').pk)\n",
        setup_env,
        cwd=EXAMPLE,
    )
    port = free_port()
    argv = {
        "uvicorn": [PYTHON, "-m", "uvicorn", "mysite.asgi:application", "--port", str(port)],
        # The middleware in MIDDLEWARE: runserver serves the token too.
        "runserver": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
    }[server]
    with (
        running_server(argv, port, env=env, cwd=EXAMPLE, ready_path="/accounts/login/") as url,
        httpx.Client(base_url=url) as client,
    ):
        assert client.get("/rollout-token").status_code == 401
        assert client.get("/").status_code == 302  # the home page needs a login
        login_over_http(client, "demo", env["DJANGO_SUPERUSER_PASSWORD"])
        home = client.get("/")
        assert home.status_code == 200
        assert 'fetch("/rollout-token"' in home.text
        response = client.get("/rollout-token")
        assert response.status_code == 200, response.text
        assert verify_token(response.json()["token"])["sub"] == pk
    assert not (EXAMPLE / "db.sqlite3").exists()  # the database went where DJANGO_DB_PATH said
