"""Litestar: :class:`RolloutTokenPlugin`, the token route for the user a Litestar dependency names.

The plugin adds a route handler to the app (``Litestar(plugins=[...])``). Its ``before_request``
hook asks the core for an early answer (403, 405, 413, the preflight) before Litestar solves any
dependency; then ``user_id``, an ordinary Litestar dependency, gives the user id and the core the
answer. See the Litestar docs page.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from inspect import getmro
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

try:
    from litestar import Request, Response
    from litestar.constants import RESERVED_KWARGS
    from litestar.di import Provide
    from litestar.enums import HttpMethod
    from litestar.exceptions import HTTPException, ImproperlyConfiguredException
    from litestar.exceptions.responses import create_debug_response, create_exception_response
    from litestar.handlers import HTTPRouteHandler
    from litestar.openapi.datastructures import ResponseSpec
    from litestar.params import DependencyKwarg, ParameterKwarg
    from litestar.plugins import InitPluginProtocol
    from litestar.utils.scope.state import ScopeState
    from litestar.utils.sync import AsyncCallable
except ImportError as exc:  # pragma: no cover - the extra is installed wherever this is tested
    raise ImportError(
        "rollout_middleware.contrib.litestar needs Litestar: "
        "pip install 'rollout-middleware[litestar]'"
    ) from exc

try:  # Litestar 2.23+: name-based injection, marked (an unmarked one warns)
    from litestar.di import Dependency as _Named

    _INJECTED: Any = _Named(kind="named")
except ImportError:  # pragma: no cover - older Litestar
    from litestar.params import Dependency

    _INJECTED = Dependency(skip_validation=True)

from .. import _config
from .._config import DEFAULT_PATH, check_path
from ..decision import Answer, TokenDecision, TokenRequest, add_cors
from ..errors import ConfigurationError
from ._callables import check_user_id_return

if TYPE_CHECKING:
    from litestar.config.app import AppConfig
    from typing_extensions import Unpack

    from .._config import AnswerOptions

__all__ = ["Problem", "RolloutToken", "RolloutTokenPlugin"]

_OWNER = "RolloutTokenPlugin"
#: The name under which the route handler receives ``user_id``'s value.
_DEPENDENCY = "rollout_user_id"
_REQUEST_KEY = "rollout_middleware.request"

#: Options of the ASGI middleware that have no meaning here, and why.
_NOT_TAKEN = {
    "resolve_user": "the user comes from user_id, a Litestar dependency (the first argument)",
    "resolver_timeout": (
        "user_id runs under Litestar's dependency injection, which cannot abandon it; bound what "
        "it waits on (a database timeout) instead"
    ),
    "thread_sensitive": "give Provide(user_id, sync_to_thread=...) as Litestar has it",
}

#: Route handler options a user may give (``route_options``); the others are the plugin's.
_ROUTE_OPTIONS = frozenset(
    {
        "after_request",
        "after_response",
        "dependencies",
        "deprecated",
        "description",
        "exception_handlers",
        "guards",
        "include_in_schema",
        "middleware",
        "name",
        "operation_id",
        "opt",
        "raises",
        "request_class",
        "response_cookies",
        "response_description",
        "response_headers",
        "security",
        "signature_namespace",
        "summary",
        "tags",
    }
)
_OWN_ROUTE_OPTIONS = {
    "path": "give path= to the plugin",
    "http_method": "give methods= to the plugin",
    "before_request": "the plugin's hook gives the early answers",
    "cache": "a token must never be cached",
    "cache_control": "every answer says Cache-Control: no-store",
    "etag": "every token answer is fresh",
    "status_code": "the core chooses the status",
    "media_type": "the core chooses the Content-Type",
    "response_class": "the core's answer is copied as it is",
    "responses": "the plugin documents its own responses",
    "dto": "the route reads no data",
    "return_dto": "the answer is the core's",
}

#: Methods documented in the OpenAPI schema when they serve tokens.
_DOCUMENTED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: The methods Litestar routes: the route answers each, those that serve no token with the
#: decision's 405 or preflight.
_HTTP_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})


class RolloutToken(msgspec.Struct):
    """The token answer (``200``), as the front end's fetch function reads it."""

    token: Annotated[
        str,
        msgspec.Meta(
            description="The Rollout auth token for the logged-in user: an HS512 JWT, fresh on "
            "every request."
        ),
    ]
    expires_at: Annotated[
        int, msgspec.Meta(description="When the token expires, in seconds since the Unix epoch.")
    ]
    expires_in: Annotated[
        int, msgspec.Meta(description="Seconds from now until the token expires.")
    ]


class Problem(msgspec.Struct):
    """An RFC 9457 problem. It never says more than the status does."""

    type: str
    title: str
    status: int
    detail: str


_ERRORS = (
    (
        401,
        "user_id returned None. (Litestar's authentication middleware answers an anonymous "
        "request itself, as on any route.)",
    ),
    (
        403,
        "A cross-site request from an origin not in allowed_origins; refused before user_id runs.",
    ),
    (405, "A method that serves no token on this path, with Allow."),
    (413, "A request body larger than max_body_size."),
    (500, "user_id failed, or returned something that is not a user id (logged)."),
    (503, "The Rollout credentials are not configured (logged)."),
)


def _responses() -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=description,
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status, description in _ERRORS
    }


def _response(answer: Answer) -> Response[Any]:
    """The decision's answer as a Litestar response: its status, headers and body, as they are."""
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


def _token_request(decision: TokenDecision, request: Request[Any, Any, Any]) -> TokenRequest:
    client = request.client
    return decision.request(
        request.method,
        request.headers.items(),
        path=request.scope["path"],
        client=client.host if client else None,
        content_length=request.headers.get("content-length"),
    )


def _stored(decision: TokenDecision, request: Request[Any, Any, Any]) -> TokenRequest:
    """The request's :class:`TokenRequest`, as the ``before_request`` hook kept it."""
    found = request.scope.get(_REQUEST_KEY)
    return found if isinstance(found, TokenRequest) else _token_request(decision, request)


def _before_request(decision: TokenDecision) -> Callable[..., Any]:
    async def rollout_token_precheck(request: Request[Any, Any, Any]) -> Response[Any] | None:
        token_request = _token_request(decision, request)
        request.scope[_REQUEST_KEY] = token_request  # type: ignore[literal-required]
        answer = decision.precheck(token_request)
        if answer is not None:
            return _response(answer)
        chunks: list[bytes] = []

        async def kept() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                chunks.append(chunk)
                yield chunk

        answer = await decision.check_body_async(token_request, kept())
        if answer is not None:
            return _response(answer)
        if chunks:  # kept where Request.body() finds it, for the dependencies
            ScopeState.from_scope(request.scope).body = b"".join(chunks)
        return None

    return rollout_token_precheck


def _handler_for(handlers: Mapping[Any, Callable[..., Any]], exc: Exception) -> Any:
    """The handler Litestar would pick from ``handlers`` for ``exc``, or ``None``."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    found = next((handlers[cls] for cls in getmro(type(exc)) if cls in handlers), None)
    if found is None and not isinstance(exc, HTTPException):
        return handlers.get(500)
    return found


def _on_error(
    decision: TokenDecision, own: Mapping[Any, Callable[..., Any]]
) -> Callable[[Request[Any, Any, Any], Exception], Response[Any]]:
    """The route's exception handler: the app's handlers first; then Litestar's own answer to an
    ``HTTPException``; then the core's logged 500 for any other exception."""

    def rollout_token_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response = _rendered(request, exc)
        if "access-control-allow-origin" not in {name.lower() for name in response.headers}:
            add_cors(response.headers, _stored(decision, request).cors)  # a dict: keys as given
        return response

    def _rendered(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        handlers: dict[Any, Callable[..., Any]] = {}
        for layer in request.route_handler.ownership_layers[:-1]:
            handlers.update(layer.exception_handlers or {})
        handlers.update(own)
        handler = _handler_for(handlers, exc)
        if handler is not None:
            return handler(request, exc)  # type: ignore[no-any-return]
        if isinstance(exc, HTTPException) and not isinstance(exc, ImproperlyConfiguredException):
            if exc.status_code == 500 and request.app.debug:
                return create_debug_response(request, exc)
            return create_exception_response(request, exc)
        token_request = _stored(decision, request)
        try:
            if isinstance(exc, ImproperlyConfiguredException):
                raise _misconfigured(request, exc) from exc
            raise exc
        except Exception:
            return _response(decision.failed(token_request))

    return rollout_token_error


def _misconfigured(
    request: Request[Any, Any, Any], exc: ImproperlyConfiguredException
) -> ConfigurationError:
    hint = ""
    if "user" not in request.scope:
        hint = (
            f"; Litestar's authentication middleware did not run for this {request.method} "
            "request: it skips exclude_http_methods (OPTIONS and HEAD by default: give "
            'exclude_http_methods=["OPTIONS"] to authenticate HEAD), exclude paths, and routes '
            "with the exclude_from_auth opt"
        )
    return ConfigurationError(f"user_id: {exc.detail}{hint}")


def _endpoint(decision: TokenDecision) -> Callable[..., Any]:
    # Litestar reads this signature; its annotations resolve in this module's globals.
    async def rollout_token(
        request: Request[Any, Any, Any],
        rollout_user_id: Annotated[Any, _INJECTED],
    ) -> Response[RolloutToken]:
        token_request = _stored(decision, request)
        return _response(await decision.respond_async(token_request, rollout_user_id))

    return rollout_token


class RolloutTokenPlugin(InitPluginProtocol):
    """Serve Rollout tokens at ``path`` for the user the dependency ``user_id`` names.

    ``user_id`` is a Litestar dependency (a callable, or ``Provide(...)``): Litestar fills its
    parameters (``request``, other dependencies), and it returns the user id (``str``, ``int``,
    ``UUID``) or ``None`` (``401``). ``route_options`` go to the route handler (``guards``,
    ``dependencies``, ``tags``, ``opt``, ...); ``options`` are the middleware's answer options.
    """

    __slots__ = ("_user_id", "decision", "path", "route_handlers")

    def __init__(
        self,
        user_id: Callable[..., Any] | Provide,
        *,
        path: str = DEFAULT_PATH,
        route_options: Mapping[str, Any] | None = None,
        **options: Unpack[AnswerOptions],
    ) -> None:
        for name in options:
            if name in _NOT_TAKEN:
                raise TypeError(
                    f"{_OWNER}() got an unexpected keyword argument {name!r}: {_NOT_TAKEN[name]}"
                )
        settings = _config.build(_OWNER, options)
        self.path = check_path(path)
        self.decision = TokenDecision(settings)
        route = dict(route_options or {})
        for name in route:
            if name in _OWN_ROUTE_OPTIONS:
                raise TypeError(
                    f"route_options: {name!r} is the plugin's: {_OWN_ROUTE_OPTIONS[name]}"
                )
        _config.check_names(f"{_OWNER}(route_options=...) HTTPRouteHandler", route, _ROUTE_OPTIONS)
        unrouted = settings.methods - _HTTP_METHODS
        if unrouted:
            raise ConfigurationError(
                f"Litestar routes no {', '.join(sorted(unrouted))} request", option="methods"
            )
        provide = user_id if isinstance(user_id, Provide) else _provide(user_id)
        self._user_id = provide
        own_handlers = dict(route.pop("exception_handlers", None) or {})
        route["dependencies"] = {**(route.get("dependencies") or {}), _DEPENDENCY: provide}
        route["exception_handlers"] = {Exception: _on_error(self.decision, own_handlers)}
        route.setdefault("name", "rollout_token")
        common = {
            "path": self.path,
            "before_request": _before_request(self.decision),
            "status_code": 200,
            **route,
        }
        in_schema = settings.methods & _DOCUMENTED_METHODS
        documented = [HttpMethod(method) for method in sorted(in_schema)]
        hidden = [HttpMethod(method) for method in sorted(_HTTP_METHODS - in_schema)]
        handlers = []
        if documented:
            common.setdefault("summary", "Get a Rollout token")
            common.setdefault(
                "description",
                "A fresh Rollout auth token for the logged-in user, for Rollout's front-end "
                "components. Every answer says `Cache-Control: no-store`.",
            )
            common.setdefault("response_description", "A fresh token, minted for this request.")
            common.setdefault("operation_id", _operation_id)
            handlers.append(
                HTTPRouteHandler(http_method=documented, responses=_responses(), **common)
            )
            common["name"] = f"{common['name']}_other_methods"
        handlers.append(HTTPRouteHandler(http_method=hidden, include_in_schema=False, **common))
        #: The route handlers the plugin adds (one documented, one for the other methods).
        # The one with OPTIONS first: else Litestar adds its own OPTIONS handler to the path.
        self.route_handlers = tuple(handler(_endpoint(self.decision)) for handler in handlers[::-1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r})"

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the token route to the app, once ``user_id`` takes nothing the client chooses."""
        handler = self.route_handlers[0]
        dependencies = {*(app_config.dependencies or {}), *(handler.dependencies or {})}
        call = self._user_id.dependency
        if isinstance(call, AsyncCallable):  # Provide(..., sync_to_thread=True)
            call = call.func
        _check_parameters(call, dependencies)
        check_user_id_return(call)
        app_config.route_handlers.extend(self.route_handlers)
        return app_config


#: What Litestar fills from the connection itself; ``query``, ``data`` and ``body`` are the client's.
_INJECTED_KWARGS = RESERVED_KWARGS - {"query", "data", "body"}


def _check_parameters(call: Any, dependencies: set[str]) -> None:
    """Refuse a ``user_id`` parameter Litestar would fill from the query string or the body: the
    client would choose the user a token is for."""
    try:
        hints = typing.get_type_hints(call, include_extras=True)
        signature = inspect.signature(call)
    except Exception:
        return
    for name, parameter in signature.parameters.items():
        meta = [parameter.default, *getattr(hints.get(name), "__metadata__", ())]
        if (
            name in _INJECTED_KWARGS
            or name in dependencies
            or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            or any(isinstance(m, DependencyKwarg) for m in meta)
            or any(isinstance(m, ParameterKwarg) and _from_the_connection(m) for m in meta)
        ):
            continue
        raise ConfigurationError(
            f"user_id: Litestar would fill its parameter {name!r} from the query string, which "
            "the client chooses. A user id dependency takes request, other dependencies, or a "
            "header or cookie (Parameter(header=...)).",
            option="user_id",
        )


def _from_the_connection(parameter: ParameterKwarg) -> bool:
    """A header or a cookie parameter, in either of Litestar's spellings."""
    kind = str(getattr(parameter, "param_type", "") or "").lower()
    return bool(parameter.header or parameter.cookie) or kind.endswith(("header", "cookie"))


def _operation_id(handler: Any, method: str, path: Any) -> str:
    return f"{method.lower()}RolloutToken"  # getRolloutToken, postRolloutToken


def _provide(user_id: object) -> Provide:
    if not callable(user_id):
        raise ConfigurationError(
            "user_id must be a Litestar dependency (a function, a callable object or "
            f"Provide(...)) that returns the user id or None, got {type(user_id).__name__}"
        )
    try:
        return Provide(user_id)
    except ImproperlyConfiguredException as exc:
        raise ConfigurationError(f"user_id: {exc.detail}") from exc
