"""The test project with a custom user model whose primary key is a UUID."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.django_project.accounts"]
AUTH_USER_MODEL = "accounts.User"
