"""Rollout tokens in a Django REST framework API, for the user DRF's TokenAuthentication names.

    pip install "rollout-middleware[drf]"
    ROLLOUT_CLIENT_ID=... ROLLOUT_CLIENT_SECRET=... python examples/drf_app.py [--port 8000]

One file, for the reading; in a project the settings go to settings.py and the routes to urls.py.
It makes a demo user ``ada`` (password ``ada-password``) in an in-memory database. Log in with
``curl -d username=ada -d password=ada-password http://127.0.0.1:8000/api-token-auth/``, then
``curl -H "Authorization: Token KEY" http://127.0.0.1:8000/rollout-token``.
"""

from __future__ import annotations

import argparse
from wsgiref.simple_server import make_server

import django
from django.conf import settings
from django.urls import path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="example-only-not-secret",
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "rest_framework",
        "rest_framework.authtoken",
        # The checks of the ROLLOUT_* settings; the credentials come from the environment.
        "rollout_middleware.contrib.django",
    ],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    },
)
django.setup()  # the credentials are read at the first token request (503 without them)

from django.contrib.auth.models import User  # noqa: E402 - after setup
from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from rest_framework.authtoken.views import obtain_auth_token  # noqa: E402

from rollout_middleware.contrib.drf import RolloutTokenAPIView  # noqa: E402

urlpatterns = [
    path("api-token-auth/", obtain_auth_token),  # DRF's own login: a token for a password
    path("rollout-token", RolloutTokenAPIView.as_view()),  # DRF authenticates, we answer
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args().port
    # migrate runs the system checks: a wrong ROLLOUT_* setting stops the example here.
    call_command("migrate", verbosity=0)
    User.objects.create_user("ada", password="ada-password")
    # One thread, so the in-memory database is the same for every request.
    with make_server("127.0.0.1", port, get_wsgi_application()) as server:
        print(f"Serving on http://127.0.0.1:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
