"""A Starlette app with a real login (session cookie) and the token middleware: for real servers."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from rollout_middleware import RolloutTokenMiddleware
from rollout_middleware.resolvers import session_user

from ..support import CLIENT_ID, SECRET

USERS = {"alice": "wonderland", "bob": "builder"}


async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", ""))
    if USERS.get(username) != form.get("password"):
        return PlainTextResponse("bad credentials", status_code=403)
    request.session["user_id"] = username
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


async def home(request: Request) -> Response:
    return JSONResponse({"user": request.session.get("user_id")})


def build_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
        ],
        middleware=[
            Middleware(SessionMiddleware, secret_key="test-session-key", https_only=False),
            Middleware(
                RolloutTokenMiddleware,
                resolve_user=session_user("user_id"),
                client_id=CLIENT_ID,
                client_secret=SECRET,
            ),
        ],
    )


app = build_app()
