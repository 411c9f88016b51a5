"""``RolloutTokenMiddleware``: the token for ``request.user``, as one line in ``MIDDLEWARE``.

::

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "rollout_middleware.contrib.django.RolloutTokenMiddleware",
        ...,
    ]

It answers ``ROLLOUT_TOKEN_PATH`` (matched exactly against ``request.path_info``, the path
relative to the script prefix, as Django's URL resolver sees it) for the user that the middleware
above it found: sessions, ``RemoteUserMiddleware``, django-allauth, your own. Every other request
goes on to ``get_response`` after one string comparison.

It is both sync- and async-capable (Django's ``sync_capable``/``async_capable``): under ASGI the
chain stays async, the user comes from ``await request.auser()`` (Django 5.0+) and any blocking
lookup runs off the event loop, on Django's thread for ORM code. The settings are read and checked
when Django builds the middleware chain, at server start: a wrong one raises
:class:`~django.core.exceptions.ImproperlyConfigured` then, never at a request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import LazyObject, empty

from ...decision import Answer
from . import answer_request, answer_response, precheck_request, user_id_of
from .conf import default_decision, read_settings

__all__ = ["RolloutTokenMiddleware"]


class RolloutTokenMiddleware:
    """Serve the Rollout token at ``ROLLOUT_TOKEN_PATH`` for ``request.user``.

    Place it after ``AuthenticationMiddleware`` (or whatever sets ``request.user``). The answers
    are those of every other entry point of this package (:mod:`rollout_middleware.decision`).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.decision = default_decision()  # ImproperlyConfigured now, for a wrong setting
        self.path = read_settings().path
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r})"

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        if request.path_info != self.path:
            return self.get_response(request)
        return answer_response(answer_request(self.decision, request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info != self.path:
            response: Awaitable[HttpResponseBase] = self.get_response(request)
            return await response
        step = precheck_request(self.decision, request)
        if isinstance(step, Answer):
            return answer_response(step)
        try:
            user_id = await _auser_id(request)
        except Exception:
            return answer_response(step.failed())
        return answer_response(await step.respond_async(user_id))


async def _auser_id(request: HttpRequest) -> str | int | None:
    """The user id of ``request.user``, found without blocking the event loop.

    A user already loaded (set by a middleware such as ``RemoteUserMiddleware``, or a lazy one
    already evaluated) is used as it is. Otherwise ``await request.auser()`` (Django 5.0+, set by
    ``AuthenticationMiddleware``), else the lazy ``request.user`` is evaluated on Django's thread
    for ORM code, as Django runs sync code under ASGI.
    """
    user = request.user
    if isinstance(user, LazyObject) and user.__dict__.get("_wrapped", empty) is empty:
        auser = getattr(request, "auser", None)
        if auser is None:
            found: str | int | None = await sync_to_async(user_id_of, thread_sensitive=True)(user)
            return found
        user = await auser()
    return user_id_of(user)
