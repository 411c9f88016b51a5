"""Django REST framework's ``RolloutTokenAPIView`` under Django's WSGI handler.

The user is found by a DRF authentication class reading ``x-user``
(tests/django_project/xuser.py), with ``AllowAny`` (tests/django_project/urls_drf_equivalence.py);
the answer options become ``ROLLOUT_*`` settings. ``MIDDLEWARE`` is empty, so the answers are the
view's alone.
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

from ..django_project.testing import ensure_django
from ..support import pep3333_transport
from . import Adapter, register
from .django import rollout_settings


@contextlib.contextmanager
def drf(**options: Any) -> Iterator[Any]:
    ensure_django()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(
        MIDDLEWARE=[],
        ROOT_URLCONF="tests.django_project.urls_drf_equivalence",
        **rollout_settings(options),
    ):
        transport = pep3333_transport(validator(WSGIHandler()))
        with httpx2.Client(transport=transport, base_url="http://testserver") as client:
            yield client


register(Adapter("drf", drf))
