"""A one-file Django project, wrapped by both shells: ``asgi`` and ``wsgi``.

Only ever imported by a server process (it configures Django's global settings). The ASGI resolver
is sync and ``thread_sensitive=True``, the setting Django's ORM needs.
"""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from starlette.types import Scope

from rollout_middleware import RolloutTokenMiddleware, RolloutTokenWSGIMiddleware
from rollout_middleware.resolvers import trusted_environ_header
from tests.support import CLIENT_ID, SECRET

HELLO = "hello from django"

settings.configure(
    DEBUG=False,
    SECRET_KEY="compat-tests-only",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HELLO, content_type="text/plain")


def echo(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.body, content_type="text/plain")


urlpatterns = [path("hello", hello), path("echo", echo)]


def user_from_header(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-user":
            return str(value.decode("latin-1"))
    return None


def _credentials() -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": SECRET}


from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

asgi = RolloutTokenMiddleware(
    get_asgi_application(),
    resolve_user=user_from_header,
    thread_sensitive=True,
    **_credentials(),
)
wsgi = RolloutTokenWSGIMiddleware(
    get_wsgi_application(), resolve_user=trusted_environ_header("X-User"), **_credentials()
)
