"""The test project with ``RolloutTokenMiddleware`` in ``MIDDLEWARE``, for real servers
(tests/contrib/test_django_middleware.py) serving Django's own, unwrapped applications
(``plain_asgi.py``, ``plain_wsgi.py``)."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import MIDDLEWARE as _MIDDLEWARE

_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MIDDLEWARE = [
    *_MIDDLEWARE[: _MIDDLEWARE.index(_AUTH) + 1],
    "rollout_middleware.contrib.django.RolloutTokenMiddleware",
    *_MIDDLEWARE[_MIDDLEWARE.index(_AUTH) + 1 :],
]
