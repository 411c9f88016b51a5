"""``RolloutTokenMiddleware``: the token for ``request.user``, as one line in ``MIDDLEWARE``,
after ``AuthenticationMiddleware``. Sync and async capable; built (and checked) at server start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import LazyObject, empty

from . import answer_request, answer_response, request_body, token_request, user_id_of
from .checks import middleware_order_error
from .conf import default_decision

__all__ = ["RolloutTokenMiddleware"]


class RolloutTokenMiddleware:
    """Serve the Rollout token at ``ROLLOUT_TOKEN_PATH`` (against ``request.path_info``) for
    ``request.user``; every other request goes on after one string comparison."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        error = middleware_order_error()
        if error is not None:
            raise ImproperlyConfigured(error)
        self.get_response = get_response
        self.decision = default_decision()  # ImproperlyConfigured now, for a wrong setting
        self.path = self.decision.settings.path
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
        decision = self.decision
        found = token_request(decision, request)
        body = request_body(request, decision.settings.max_body_size)
        answer = decision.precheck(found) or decision.check_body(found, body)
        if answer is None:
            answer = await decision.handle_async(found, lambda: _auser_id(request))
        assert answer is not None  # the body was read above: no disconnect to see
        return answer_response(answer)


async def _auser_id(request: HttpRequest) -> object:
    """The user id of ``request.user``, found without blocking the event loop: the user as it is
    if loaded, else ``await request.auser()`` (Django 5.0+), else on Django's ORM thread."""
    user = request.user
    if isinstance(user, LazyObject) and user.__dict__.get("_wrapped", empty) is empty:
        auser = getattr(request, "auser", None)
        if auser is None:
            return await sync_to_async(user_id_of, thread_sensitive=True)(user)
        user = await auser()
    return user_id_of(user)
