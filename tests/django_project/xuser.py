"""The ``x-user`` header as Django authentication, for the equivalence suite (tests/equivalence).

:class:`XUserMiddleware` sets ``request.user`` (a lazy object, as ``AuthenticationMiddleware``
does) and ``request.auser``; :class:`XUserAuthentication` is the same for Django REST framework.
The header's meaning is :func:`tests.equivalence.user_from_header`'s; ``x-user: bad`` is a user
whose primary key is whitespace, which no Rollout user id may be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from tests.equivalence import user_from_header


class HeaderUser:
    """A user as Django code sees one: authenticated, active, with a ``pk``."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, pk: object) -> None:
        self.pk = pk


def header_user(request: Any) -> Any:
    value = user_from_header(request.headers.get("x-user"))
    if value is None:
        return AnonymousUser()
    if isinstance(value, float):  # "bad": not a user id
        return HeaderUser(" ")
    return HeaderUser(value)


class XUserMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        request.user = SimpleLazyObject(lambda: header_user(request))

        async def auser() -> Any:
            return header_user(request)

        request.auser = auser  # type: ignore[attr-defined]
        return self.get_response(request)  # a coroutine when the chain is async


class XUserAuthentication(BaseAuthentication):
    """The ``x-user`` header as a Django REST framework authentication class."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        if request.headers.get("x-user") == "deny":
            raise AuthenticationFailed("denied by DRF")
        user = header_user(request)  # raises for "x-user: raise"
        if isinstance(user, AnonymousUser):
            return None
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return "XUser"  # DRF answers a refusal 401 (403 without a challenge)


class SyncOnlyMiddleware:
    """A sync-only middleware (Django's default capabilities), which Django must adapt under
    ASGI: the control of tests/contrib/test_django_middleware.py's adaptation test."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)
