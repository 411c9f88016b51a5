"""aiohttp: :func:`setup` adds the token route to an :class:`aiohttp.web.Application`, as
``aiohttp_session.setup`` adds its middleware. See the aiohttp docs page."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _config
from .._sync import as_async, is_async_callable
from ..decision import TokenDecision, add_cors
from ..errors import ConfigurationError
from ._callables import EXTENSION_TAKES, check_one_argument

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - the extra is installed wherever this is tested
    raise ImportError(
        "rollout_middleware.contrib.aiohttp needs aiohttp: "
        "pip install 'rollout-middleware[aiohttp]'"
    ) from exc

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._config import AnswerOptions

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
    path: str = _config.DEFAULT_PATH,
    **options: Unpack[SetupOptions],
) -> None:
    """Serve Rollout tokens at ``path`` in ``app``, for the user ``resolve_user(request)`` names;
    a sync resolver runs in a worker thread. Options are checked now."""
    _config.check_names("setup", options, EXTENSION_TAKES)
    check_one_argument("resolve_user", resolve_user, "the aiohttp Request")
    if DECISION_KEY in app:
        raise ConfigurationError("rollout_middleware.contrib.aiohttp.setup ran twice on this app")
    decision = TokenDecision(_config.build("setup", {**options, "path": path}, EXTENSION_TAKES))
    app[DECISION_KEY] = decision
    resolve = as_async(resolve_user, is_async_callable(resolve_user))

    async def rollout_token(request: web.Request) -> web.Response:
        token_request = decision.request(
            request.method,
            request.headers.items(),
            path=request.path,
            client=request.remote,
            content_length=request.content_length,
        )
        answer = await decision.handle_async(
            token_request,
            lambda: resolve(request),
            request.content.iter_chunked(_READ_CHUNK),
            passthrough=(web.HTTPException,),
        )
        assert answer is not None  # aiohttp's stream never reports a disconnect
        # Content-Type as a header: aiohttp adds no charset; a 204 gets no Content-Length.
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    route = app.router.add_route("*", path, rollout_token, name=ROUTE_NAME)
    if decision.settings.allowed_origins:  # else no hook

        async def rollout_token_cors(request: web.Request, response: web.StreamResponse) -> None:
            """The app's own answers on the token route (an ``HTTPUnauthorized`` from the
            resolver or from a middleware) get the CORS headers of an allowed origin."""
            if (
                request.match_info.route is route
                and "Access-Control-Allow-Origin" not in response.headers  # ours have them
                and (origins := request.headers.getall("Origin", ()))
            ):  # every Origin line: the core refuses a repeated one, and so adds no CORS
                cors = decision.request(request.method, [("origin", o) for o in origins]).cors
                add_cors(response.headers, cors)

        app.on_response_prepare.append(rollout_token_cors)
