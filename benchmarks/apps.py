"""The apps every benchmark compares, in-process and behind real servers.

Every variant resolves the user the same way: from the ``X-User`` header an authenticating proxy
would set, through the same resolver callable. The hand-written token routes are Rollout's guide
(``generateToken(userId)`` with ``jsonwebtoken``) translated: ``jwt.encode`` of the four claims,
answered as JSON with the same three fields our middleware answers. Credentials are read once at
import, not per request, which favours the hand-written routes.

Module-level instances (``asgi_ours``, ``wsgi_hand``, ...) are what the HTTP benchmark serves:
``uvicorn --app-dir benchmarks apps:asgi_ours``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import jwt
from flask import Flask, Response, jsonify, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from rollout_middleware import RolloutTokenMiddleware, RolloutTokenWSGIMiddleware
from rollout_middleware.resolvers import trusted_environ_header, trusted_header
from rollout_middleware.tokens import TokenIssuer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

try:  # run as a script from benchmarks/, or imported as benchmarks.apps
    from _common import CLIENT_ID, PASS_PATH, SECRET, TOKEN_PATH, USER, USER_HEADER
except ImportError:  # pragma: no cover
    from benchmarks._common import CLIENT_ID, PASS_PATH, SECRET, TOKEN_PATH, USER, USER_HEADER

TTL = 900
HELLO = "Hello, world!"
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# --- resolvers: the same callables for every variant ---------------------------------------------
resolve_async = trusted_header(USER_HEADER)
resolve_environ = trusted_environ_header(USER_HEADER)
_HEADER_KEY = USER_HEADER.lower().encode("latin-1")


def resolve_sync(scope: Scope) -> Any:
    """The sync twin of ``resolve_async``: under ASGI it costs a hop to a worker thread."""
    for key, value in scope["headers"]:
        if key == _HEADER_KEY:
            return value.decode("latin-1") or None
    return None


# --- the constant answer of the same size as a token answer --------------------------------------
_issued = TokenIssuer(CLIENT_ID, SECRET).issue(USER)
CONSTANT_BODY = b'{"token":"%s","expires_at":%d,"expires_in":%d}' % (
    b"x" * len(_issued.token),
    _issued.expires_at,
    _issued.expires_in,
)
CONSTANT_HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Length", str(len(CONSTANT_BODY))),
]
_RAW_CONSTANT_HEADERS = [(k.lower().encode(), v.encode()) for k, v in CONSTANT_HEADERS]


def guide_token(user_id: str) -> tuple[str, int]:
    """Rollout's ``generateToken(userId)``, translated: the token and its expiry."""
    now = int(time.time())
    token = jwt.encode(
        {"iss": CLIENT_ID, "sub": user_id, "iat": now, "exp": now + TTL},
        SECRET,
        algorithm="HS512",
    )
    return token, now + TTL


# --- ASGI ------------------------------------------------------------------------------------------
async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse(HELLO)


async def hand_token_route(request: Request) -> StarletteResponse:
    """The guide's route, hand-written for Starlette."""
    user_id = await resolve_async(request.scope)
    if user_id is None:
        return JSONResponse({"error": "not logged in"}, status_code=401)
    token, expires_at = guide_token(user_id)
    return JSONResponse({"token": token, "expires_at": expires_at, "expires_in": TTL})


def hand_token_route_sync(request: Request) -> StarletteResponse:
    """The same route written as a sync function: Starlette runs it in its thread pool."""
    user_id = resolve_sync(request.scope)
    if user_id is None:
        return JSONResponse({"error": "not logged in"}, status_code=401)
    token, expires_at = guide_token(user_id)
    return JSONResponse({"token": token, "expires_at": expires_at, "expires_in": TTL})


class HandTokenHTTPMiddleware(BaseHTTPMiddleware):
    """The same token path as a ``BaseHTTPMiddleware``, for reference (never do this)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Any:
        if request.scope["path"] == TOKEN_PATH:
            return await hand_token_route(request)
        return await call_next(request)


def starlette_bare() -> Starlette:
    return Starlette(routes=[Route(PASS_PATH, home)])


def starlette_ours(resolver: Callable[[Scope], Any] = resolve_async) -> Starlette:
    return Starlette(
        routes=[Route(PASS_PATH, home)],
        middleware=[
            Middleware(
                RolloutTokenMiddleware,
                resolve_user=resolver,
                client_id=CLIENT_ID,
                client_secret=SECRET,
            )
        ],
    )


def starlette_basehttp() -> Starlette:
    return Starlette(
        routes=[Route(PASS_PATH, home)], middleware=[Middleware(HandTokenHTTPMiddleware)]
    )


def starlette_hand(sync: bool = False) -> Starlette:
    route = hand_token_route_sync if sync else hand_token_route
    return Starlette(routes=[Route(PASS_PATH, home), Route(TOKEN_PATH, route)])


async def raw_constant(scope: Scope, receive: Receive, send: Send) -> None:
    """A raw-ASGI constant JSON answer of a token answer's size and headers."""
    await send({"type": "http.response.start", "status": 200, "headers": _RAW_CONSTANT_HEADERS})
    await send({"type": "http.response.body", "body": CONSTANT_BODY})


_MINT_ISSUER = TokenIssuer(CLIENT_ID, SECRET, ttl=TTL)
_MINT_HEADERS = [(k, v) for k, v in _RAW_CONSTANT_HEADERS if k != b"content-length"]


async def raw_mint(scope: Scope, receive: Receive, send: Send) -> None:
    """The least an ASGI token endpoint can do: the user from the header, ``TokenIssuer.issue``,
    the JSON, two ``send`` calls. No checks, no CORS, no hook: the floor for ours."""
    if scope["path"] != TOKEN_PATH:
        await raw_constant(scope, receive, send)
        return
    issued = _MINT_ISSUER.issue(await resolve_async(scope))
    body = b'{"token":"%s","expires_at":%d,"expires_in":%d}' % (
        issued.token.encode(),
        issued.expires_at,
        issued.expires_in,
    )
    headers = [*_MINT_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class MintMiddleware:
    """The least a token middleware can do: :func:`raw_mint` on the token path, ``app`` elsewhere.
    Inside a Starlette app it pays Starlette's own layers, as ours does: the fair floor there."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == TOKEN_PATH:
            await raw_mint(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# --- WSGI ------------------------------------------------------------------------------------------
def _flask(with_hand_route: bool = False, with_hook: bool = False) -> Flask:
    app = Flask("bench")

    @app.get(PASS_PATH)
    def hello() -> str:
        return HELLO

    if with_hand_route:

        @app.get(TOKEN_PATH)
        def rollout_token() -> Response | tuple[Response, int]:
            user_id = resolve_environ(request.environ)
            if user_id is None:
                return jsonify(error="not logged in"), 401
            token, expires_at = guide_token(user_id)
            return jsonify(token=token, expires_at=expires_at, expires_in=TTL)

    if with_hook:

        @app.before_request
        def rollout_token_hook() -> Response | None:
            """The Flask-idiomatic equivalent of a ``BaseHTTPMiddleware``, for reference."""
            if request.path != TOKEN_PATH:
                return None
            token, expires_at = guide_token(resolve_environ(request.environ))
            return jsonify(token=token, expires_at=expires_at, expires_in=TTL)

    return app


def flask_bare() -> Flask:
    return _flask()


def flask_ours(resolver: Callable[[WSGIEnvironment], Any] = resolve_environ) -> Flask:
    app = _flask()
    app.wsgi_app = RolloutTokenWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, resolve_user=resolver, client_id=CLIENT_ID, client_secret=SECRET
    )
    return app


def flask_hand() -> Flask:
    return _flask(with_hand_route=True)


def flask_hook() -> Flask:
    return _flask(with_hook=True)


_HELLO_BYTES = HELLO.encode()
_HELLO_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(_HELLO_BYTES)))]


def plain_wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The smallest WSGI app: a constant text answer."""
    start_response("200 OK", list(_HELLO_HEADERS))
    return [_HELLO_BYTES]


def plain_wsgi_ours() -> WSGIApplication:
    return RolloutTokenWSGIMiddleware(
        plain_wsgi, resolve_user=resolve_environ, client_id=CLIENT_ID, client_secret=SECRET
    )


def wsgi_raw_constant(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A plain WSGI constant JSON answer of a token answer's size and headers."""
    start_response("200 OK", list(CONSTANT_HEADERS))
    return [CONSTANT_BODY]


# --- what the HTTP benchmark serves ----------------------------------------------------------------
asgi_ours: AsgiApp = starlette_ours()
asgi_ours_sync: AsgiApp = starlette_ours(resolve_sync)
asgi_hand: AsgiApp = starlette_hand()
asgi_raw: AsgiApp = raw_constant
asgi_mint: AsgiApp = raw_mint
asgi_mint_starlette: AsgiApp = Starlette(
    routes=[Route(PASS_PATH, home)], middleware=[Middleware(MintMiddleware)]
)
#: The middleware alone around a raw ASGI app: what it costs, without Starlette's own layers.
asgi_ours_raw: AsgiApp = RolloutTokenMiddleware(
    raw_constant, resolve_user=resolve_async, client_id=CLIENT_ID, client_secret=SECRET, ttl=TTL
)
wsgi_ours: WSGIApplication = flask_ours()
wsgi_hand: WSGIApplication = flask_hand()
wsgi_raw: WSGIApplication = wsgi_raw_constant
