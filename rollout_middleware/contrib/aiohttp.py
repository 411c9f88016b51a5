"""aiohttp integration: :func:`setup` adds the token route to an :class:`aiohttp.web.Application`.

::

    import aiohttp_session
    from aiohttp import web
    from rollout_middleware.contrib import aiohttp as rollout

    async def current_user_id(request: web.Request) -> str | None:
        session = await aiohttp_session.get_session(request)
        return session.get("user_id")

    app = web.Application()
    aiohttp_session.setup(app, storage)
    rollout.setup(app, resolve_user=current_user_id)

``setup(app, *, resolve_user, path="/rollout-token", **options)`` follows aiohttp's own extensions
(``aiohttp_session.setup``, ``aiohttp_jinja2.setup``): it adds one route, named ``"rollout_token"``,
that accepts every method (``add_route("*", ...)``), so the decision, not aiohttp's router, answers
``HEAD``, ``405`` with ``Allow`` and the CORS preflight, exactly as the ASGI middleware does.

``resolve_user(request)`` gets the aiohttp :class:`~aiohttp.web.Request` after the app's middlewares
ran (aiohttp-session's included), and returns the user id (``str``/``int``) or ``None`` (401). It may
be sync or async; a sync one runs in a worker thread, never on the event loop. It must answer within
``resolver_timeout`` seconds (10 by default, ``None`` for no limit), else 503. An exception it raises
is logged and answered 500, except an :class:`aiohttp.web.HTTPException` (a redirect to the login
page, ``aiohttp_security``'s ``HTTPUnauthorized``), which aiohttp renders as it would for any handler.

The options are those of the middleware (see the README's table) but ``thread_sensitive``: ``issuer``
or ``client_id``/``client_secret``/``ttl``, ``methods``, ``allowed_origins``, ``on_issue``,
``max_body_size``, ``resolver_timeout``. They are checked by :func:`setup`, which raises
:class:`~rollout_middleware.errors.ConfigurationError` (a wrong value) or ``TypeError`` (an unknown
name) when the app is built, never at the first request.

The answer is the core's status, headers and body, copied into a :class:`~aiohttp.web.Response`:
aiohttp adds only ``Date`` and ``Server`` (and whatever the app's own middlewares add, as on any
route).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import (
    ANSWER_OPTIONS,
    DEFAULT_PATH,
    RequestInfo,
    ResolverSettings,
    as_async,
    await_within,
    check_option_names,
    shell_settings,
)
from ..decision import Answer, TokenDecision, request_headers
from ..errors import ConfigurationError, ResolverTimeoutError
from ._callables import check_one_argument

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - the extra is installed wherever this is tested
    raise ImportError(
        "rollout_middleware.contrib.aiohttp needs aiohttp: "
        "pip install 'rollout-middleware[aiohttp]'"
    ) from exc

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..config import AnswerOptions

    class SetupOptions(AnswerOptions, total=False):
        resolver_timeout: float | None


__all__ = ["DECISION_KEY", "ROUTE_NAME", "setup"]

#: The route's name: ``request.app.router["rollout_token"].url_for()`` is the token URL.
ROUTE_NAME = "rollout_token"
#: Where :func:`setup` keeps the decision in the app (and how it refuses a second setup).
DECISION_KEY = web.AppKey("rollout_token_decision", TokenDecision)

_READ_CHUNK = 64 * 1024


def setup(
    app: web.Application,
    *,
    resolve_user: Callable[[web.Request], Any],
    path: str = DEFAULT_PATH,
    **options: Unpack[SetupOptions],
) -> None:
    """Serve Rollout tokens at ``path`` in ``app``, for the user ``resolve_user(request)`` names.

    Raises :class:`~rollout_middleware.errors.ConfigurationError` for a wrong option, a
    ``resolve_user`` that is not a one-argument callable, or an app already set up.
    """
    # Narrower than shell_settings' own check: a sync resolver runs in one of anyio's threads,
    # so thread_sensitive is refused here, and never suggested.
    check_option_names("setup", options, {*ANSWER_OPTIONS, "resolver_timeout"})
    check_one_argument("resolve_user", resolve_user, "the aiohttp Request")
    if DECISION_KEY in app:
        raise ConfigurationError("rollout_middleware.contrib.aiohttp.setup ran twice on this app")
    settings, resolver = shell_settings("setup", resolve_user, path, options)
    decision = TokenDecision(settings)
    app[DECISION_KEY] = decision
    app.router.add_route("*", path, _make_handler(decision, resolver), name=ROUTE_NAME)


def _make_handler(
    decision: TokenDecision, resolver: ResolverSettings
) -> Callable[[web.Request], Any]:
    resolve = as_async(resolver.resolve_user, resolver.is_async)
    timeout = resolver.timeout
    max_body_size = decision.settings.max_body_size

    async def rollout_token(request: web.Request) -> web.Response:
        method = request.method
        headers = request_headers(request.headers.get)
        answer = decision.precheck(method, headers, request.content_length)
        if (
            answer is None
            and request.content_length is None
            and request.body_exists
            and decision.wants_body(method)
            and await _longer_than(request, max_body_size)
        ):  # a chunked body: counted as it comes, never buffered
            answer = decision.body_too_large(method, headers)
        if answer is None:
            answer = await _answer(decision, resolve, timeout, request, method, headers)
        return _response(answer)

    return rollout_token


async def _answer(
    decision: TokenDecision,
    resolve: Callable[[web.Request], Any],
    timeout: float | None,
    request: web.Request,
    method: str,
    headers: dict[str, str],
) -> Answer:
    try:
        user_id = await await_within(resolve(request), timeout)
    except web.HTTPException:
        raise  # the app's own answer (a login redirect, a 401): aiohttp renders it
    except ResolverTimeoutError:
        return decision.resolver_timed_out(method, headers, timeout)
    except Exception:
        return decision.resolver_failed(method, headers)
    info: RequestInfo = {"method": method, "path": request.path, "client": request.remote}
    return await decision.respond_async(method, user_id, headers, info)


async def _longer_than(request: web.Request, limit: int) -> bool:
    """Read the body, discarding it; ``True`` as soon as it exceeds ``limit`` bytes."""
    seen = 0
    while chunk := await request.content.read(_READ_CHUNK):
        seen += len(chunk)
        if seen > limit:
            return True
    return False


def _response(answer: Answer) -> web.Response:
    """The answer as an aiohttp response: the same status, headers and body, nothing added.

    ``Content-Type`` is given as a header, so aiohttp adds no charset; ``Content-Length`` is the
    core's (for ``HEAD`` too); a 204 has neither, and aiohttp adds neither.
    """
    return web.Response(status=answer.status, headers=answer.headers, body=answer.body)
