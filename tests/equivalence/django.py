"""Django's ``RolloutTokenMiddleware`` in ``MIDDLEWARE``, under Django's WSGI and ASGI handlers.

The project is tests/django_project; ``MIDDLEWARE`` is only the ``x-user`` authentication
middleware (tests/django_project/xuser.py) and ours, so the answers are ours alone (the project's
other middleware would add its own headers, such as ``X-Frame-Options``). The answer options
become ``ROLLOUT_*`` settings, as a Django project gives them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from wsgiref.validate import validator

try:
    import httpx2
except ModuleNotFoundError:  # Python 3.10
    import httpx as httpx2
from starlette.testclient import TestClient

from ..django_project.testing import ensure_django
from ..support import pep3333_transport
from . import Adapter, register

MIDDLEWARE = [
    "tests.django_project.xuser.XUserMiddleware",
    "rollout_middleware.contrib.django.RolloutTokenMiddleware",
]
SETTING_OF = {
    "issuer": "ROLLOUT_ISSUER",
    "on_issue": "ROLLOUT_ON_ISSUE",
    "methods": "ROLLOUT_TOKEN_METHODS",
    "allowed_origins": "ROLLOUT_ALLOWED_ORIGINS",
    "max_body_size": "ROLLOUT_MAX_BODY_SIZE",
}


def rollout_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The answer options as ``ROLLOUT_*`` settings (an issuer replaces the credentials)."""
    found = {SETTING_OF[name]: value for name, value in options.items()}
    if "ROLLOUT_ISSUER" in found:
        found.update(ROLLOUT_CLIENT_ID=None, ROLLOUT_CLIENT_SECRET=None)
    return found


@contextlib.contextmanager
def django_wsgi(**options: Any) -> Iterator[Any]:
    ensure_django()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=MIDDLEWARE, **rollout_settings(options)):
        transport = pep3333_transport(validator(WSGIHandler()))
        with httpx2.Client(transport=transport, base_url="http://testserver") as client:
            yield client


@contextlib.contextmanager
def django_asgi(**options: Any) -> Iterator[Any]:
    ensure_django()
    from django.core.handlers.asgi import ASGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=MIDDLEWARE, **rollout_settings(options)):
        # Not entered as a context manager: Django's ASGI handler refuses lifespan scopes.
        yield TestClient(ASGIHandler(), base_url="http://testserver")


register(Adapter("django-middleware-wsgi", django_wsgi))
register(Adapter("django-middleware-asgi", django_asgi))
