"""Tornado integration: :func:`rollout_token_handler` builds a handler on the app's own base handler.

::

    import tornado.web
    from rollout_middleware.contrib.tornado import rollout_token_handler

    class BaseHandler(tornado.web.RequestHandler):
        def get_current_user(self) -> str | None:
            user = self.get_signed_cookie("user")
            return None if user is None else user.decode()

    app = tornado.web.Application(
        [(r"/rollout-token", rollout_token_handler(BaseHandler)), ...],
        cookie_secret="...",
    )

``rollout_token_handler(base=RequestHandler, *, user_id=None, **options)`` returns a subclass of
``base``, so the app's own ``get_current_user`` (or a ``prepare`` that sets ``self.current_user``, for
async auth) decides who the user is, as for any other handler of the app. ``user_id(handler)`` turns
``handler.current_user`` into the user id (``str``/``int``) or ``None`` (401); by default the
``current_user`` itself is the id. It may be sync (it then runs on the event loop, as
``get_current_user`` does: keep it to reading the user object) or async.

The options are the answer options of the middleware (see the README's table): ``issuer`` or
``client_id``/``client_secret``/``ttl``, ``methods``, ``allowed_origins``, ``on_issue``,
``max_body_size``. They are checked when the class is built:
:class:`~rollout_middleware.errors.ConfigurationError` for a wrong value, ``TypeError`` for an unknown
name.

Per request, in ``prepare``:

1. the decision's early answer (cross-site 403, 405 with ``Allow``, 413, the CORS preflight), before
   the base's ``prepare`` and before ``current_user`` is read;
2. the base's ``prepare`` (sync or async), then ``current_user`` and ``user_id``. A
   :class:`tornado.web.HTTPError` raised there is Tornado's to render, as on any handler; any other
   exception is logged and answered 500 in problem JSON; a ``prepare`` that finishes the request
   itself (a login redirect) ends it there;
3. the decision's answer, written as it is: status, headers and body. ``compute_etag`` returns
   ``None`` (no ``Etag``, no ``304``) and Tornado's default ``Content-Type`` is removed; Tornado adds
   ``Date`` and ``Server``, and the base's ``set_default_headers`` whatever it adds to every handler.

Every method reaches ``prepare`` (``SUPPORTED_METHODS`` admits them all), so ``HEAD``, ``405`` and
``OPTIONS`` are answered by the decision, as by the middleware. The body is Tornado's: it is read
before the handler runs, up to the server's ``max_body_size``; ours (64 KiB by default) is then
checked against its length.

XSRF: with the application setting ``xsrf_cookies`` (or ``cross_origin_protection``), Tornado checks
every request but ``GET``, ``HEAD`` and ``OPTIONS`` before ``prepare``, as for every handler of the
app, so a ``POST`` configuration needs the ``_xsrf`` cookie's value in an ``X-XSRFToken`` header;
without it Tornado answers its own 403. The decision's cross-site check runs as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import ANSWER_OPTIONS, RequestInfo, Settings, check_option_names, is_async_callable
from ..decision import Answer, TokenDecision, request_headers
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

    from ..config import AnswerOptions

__all__ = ["RolloutTokenMixin", "rollout_token_handler"]


class _EveryMethod(tuple[str, ...]):
    """A ``SUPPORTED_METHODS`` that admits every method: the decision answers the unknown ones."""

    __slots__ = ()

    def __contains__(self, method: object) -> bool:
        return True


def _current_user(handler: RequestHandler) -> Any:
    return handler.current_user


class RolloutTokenMixin(RequestHandler):
    """What :func:`rollout_token_handler` puts in front of the app's base handler.

    Not for direct use: the class that function builds sets ``rollout_decision`` and
    ``rollout_user_id``.
    """

    SUPPORTED_METHODS = _EveryMethod()
    rollout_decision: ClassVar[TokenDecision]
    rollout_user_id: ClassVar[Callable[[RequestHandler], Any]]
    rollout_user_id_is_async: ClassVar[bool]

    def compute_etag(self) -> str | None:
        return None  # a fresh token on every request: no Etag, no 304

    async def prepare(self) -> None:
        decision = self.rollout_decision
        request = self.request
        method = request.method or "GET"
        headers = request_headers(request.headers.get)
        answer = decision.precheck(method, headers, len(request.body))
        if answer is None:
            try:
                user_id = await self._rollout_find_user()
            except HTTPError:
                raise  # the app's own answer: Tornado renders it, as for any handler
            except Exception:
                answer = decision.resolver_failed(method, headers)
            else:
                if self._finished:  # the base's prepare answered (a redirect to the login page)
                    return
                info: RequestInfo = {
                    "method": method,
                    "path": request.path,
                    "client": request.remote_ip,
                }
                answer = await decision.respond_async(method, user_id, headers, info)
        self._rollout_write(answer)

    async def _rollout_find_user(self) -> Any:
        """The base's ``prepare``, then ``current_user`` through ``user_id``."""
        prepared = super().prepare()
        if prepared is not None:
            await prepared
        if self._finished:
            return None
        user_id = type(self).rollout_user_id(self)
        if self.rollout_user_id_is_async:
            user_id = await user_id
        return user_id

    def _rollout_write(self, answer: Answer) -> None:
        self.clear_header("Content-Type")  # Tornado's default text/html
        self.set_status(answer.status)
        for name, value in answer.headers:
            self.set_header(name, value)
        self.finish(answer.body or None)  # even an empty write is a body to Tornado (a 204)


def rollout_token_handler(
    base: type[RequestHandler] = RequestHandler,
    *,
    user_id: Callable[[RequestHandler], Any] | None = None,
    **options: Unpack[AnswerOptions],
) -> type[RequestHandler]:
    """A ``RequestHandler`` subclass of ``base`` that serves Rollout tokens to its current user.

    Route it at the token path: ``(r"/rollout-token", rollout_token_handler(BaseHandler))``.
    Raises :class:`~rollout_middleware.errors.ConfigurationError` for a wrong option, a ``base``
    that is not a ``RequestHandler`` subclass, or a ``user_id`` that is not a one-argument callable.
    """
    check_option_names("rollout_token_handler", options, ANSWER_OPTIONS)
    if not isinstance(base, type) or not issubclass(base, RequestHandler):
        raise ConfigurationError(
            f"base must be a tornado.web.RequestHandler subclass, got {base!r}"
        )
    if user_id is None:
        user_id = _current_user
    else:
        check_one_argument("user_id", user_id, "the RequestHandler")
    settings = Settings.build(path=None, owner="rollout_token_handler", **options)
    namespace = {
        "rollout_decision": TokenDecision(settings),
        "rollout_user_id": staticmethod(user_id),
        "rollout_user_id_is_async": is_async_callable(user_id),
        "__module__": base.__module__,
        "__doc__": f"Serves Rollout tokens to the current user of {base.__qualname__}.",
    }
    handler: type[RequestHandler] = type(
        f"RolloutToken{base.__name__}", (RolloutTokenMixin, base), namespace
    )
    return handler
