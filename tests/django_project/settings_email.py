"""The test project as an app like HackSoftware's Django-Styleguide-Example has it: a user model
keyed by email, the recommended wiring (the middleware in ``MIDDLEWARE``), and no Rollout
credentials at all: its tests need none (docs/django.md, "Testing your app")."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS
from .settings_middleware import MIDDLEWARE as MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "tests.django_project.emailusers"]
AUTH_USER_MODEL = "emailusers.User"
ROLLOUT_CLIENT_ID = None  # None: the environment's, which the tests clear
ROLLOUT_CLIENT_SECRET = None
