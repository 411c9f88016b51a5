"""The Django example (examples/django_project) runs as documented and serves a token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.django_project.testing import login_over_http, new_password, run_django
from tests.support import CLIENT_ID, PYTHON, ROOT, SECRET, free_port, running_server, verify_token

pytestmark = [pytest.mark.server, pytest.mark.slow]

EXAMPLE = ROOT / "examples" / "django_project"


def test_example_login_page_and_token(tmp_path: Path) -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DJANGO_DB_PATH": str(tmp_path / "db.sqlite3"),
        "DJANGO_SUPERUSER_PASSWORD": new_password(),
        "ROLLOUT_CLIENT_ID": CLIENT_ID,
        "ROLLOUT_CLIENT_SECRET": SECRET,
    }
    # What docs/django.md says to run: migrate, then create a user.
    pk = run_django(
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "call_command('createsuperuser', interactive=False, username='demo',"
        " email='demo@example.com', verbosity=0)\n"
        "from django.contrib.auth import get_user_model\n"
        "print(get_user_model().objects.get(username='demo').pk)\n",
        env,
        cwd=EXAMPLE,
    )
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "mysite.asgi:application", "--port", str(port)]
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
