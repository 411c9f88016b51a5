"""Tornado: :func:`rollout_token_handler` builds a handler on the app's own base handler, whose
``get_current_user`` (or ``prepare``) decides the user. See the Tornado docs page."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _config
from .._sync import is_async_callable
from ..decision import TokenDecision, add_cors
from ..errors import ConfigurationError
from ._callables import check_one_argument

try:
    from tornado.web import HTTPError, RequestHandler
except ImportError as exc:  # pragma: no cover - the extra is installed wherever this is tested
    raise ImportError(
        "rollout_middleware.contrib.tornado needs Tornado: "
        "pip install 'rollout-middleware[tornado]'"
    ) from exc

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._config import AnswerOptions

__all__ = ["RolloutTokenMixin", "rollout_token_handler"]


class _EveryMethod(tuple[str, ...]):
    """A ``SUPPORTED_METHODS`` that admits every method: the decision answers the unknown ones."""

    __slots__ = ()

    def __contains__(self, method: object) -> bool:
        return True


class RolloutTokenMixin(RequestHandler):
    """What :func:`rollout_token_handler` puts in front of the app's base handler."""

    SUPPORTED_METHODS = _EveryMethod()
    rollout_decision: ClassVar[TokenDecision]
    rollout_user_id: ClassVar[Callable[[RequestHandler], Any]]
    rollout_user_id_is_async: ClassVar[bool]

    def compute_etag(self) -> str | None:
        return None  # a fresh token on every request: no Etag, no 304

    async def prepare(self) -> None:
        decision, request = self.rollout_decision, self.request
        token_request = decision.request(
            request.method or "GET",
            request.headers.get_all(),
            path=request.path,
            client=request.remote_ip,
            content_length=len(request.body),
        )
        answer = await decision.handle_async(
            token_request, self._rollout_find_user, passthrough=(HTTPError,)
        )
        if answer is not None and not self._finished:  # the base's prepare may have answered
            self.clear_header("Content-Type")  # Tornado's default text/html
            self.set_status(answer.status)
            for name, value in answer.headers:
                self.set_header(name, value)
            self.finish(answer.body or None)  # even an empty write is a body to Tornado (a 204)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Tornado's or the app's error page (an ``HTTPError``, the XSRF check before
        ``prepare``), readable by a page of an allowed origin too."""
        request = self.request
        found = self.rollout_decision.request(request.method or "GET", request.headers.get_all())
        add_cors(self._headers, found.cors)  # Tornado's headers, after set_default_headers()
        super().write_error(status_code, **kwargs)

    async def _rollout_find_user(self) -> Any:
        """The base's ``prepare``, then ``current_user`` through ``user_id``."""
        prepared = super().prepare()
        if prepared is not None:
            await prepared
        if self._finished:
            return None
        user_id = type(self).rollout_user_id(self)
        return await user_id if self.rollout_user_id_is_async else user_id


def rollout_token_handler(
    base: type[RequestHandler] = RequestHandler,
    *,
    user_id: Callable[[RequestHandler], Any] | None = None,
    **options: Unpack[AnswerOptions],
) -> type[RequestHandler]:
    """A ``RequestHandler`` subclass of ``base`` that serves Rollout tokens to its current user."""
    _config.check_names("rollout_token_handler", options, _config.ANSWER_OPTIONS)
    if not isinstance(base, type) or not issubclass(base, RequestHandler):
        raise ConfigurationError(
            f"base must be a tornado.web.RequestHandler subclass, got {base!r}"
        )
    if user_id is None:
        user_id = operator.attrgetter("current_user")
    else:
        check_one_argument("user_id", user_id, "the RequestHandler")
    settings = _config.build("rollout_token_handler", options)
    namespace = {
        "rollout_decision": TokenDecision(settings),
        "rollout_user_id": staticmethod(user_id),
        "rollout_user_id_is_async": is_async_callable(user_id),
        "__module__": base.__module__,
        "__doc__": f"Serves Rollout tokens to the current user of {base.__qualname__}.",
    }
    return type(f"RolloutToken{base.__name__}", (RolloutTokenMixin, base), namespace)
