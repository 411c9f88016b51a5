"""Rollout tokens in a Starlette app, with a session login: the smallest complete wiring.

    pip install rollout-middleware uvicorn itsdangerous python-multipart
    ROLLOUT_CLIENT_ID=... ROLLOUT_CLIENT_SECRET=... python examples/starlette_app.py [--port 8000]

Log in with ``curl -c jar -d user_id=ada http://127.0.0.1:8000/login``, then
``curl -b jar http://127.0.0.1:8000/rollout-token``. FastAPI is the same: ``app.add_middleware``.
"""

from __future__ import annotations

import argparse
import os
import secrets

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from rollout_middleware import RolloutTokenMiddleware
from rollout_middleware.resolvers import session_user

#: Signs the session cookie; a new one per process logs everyone out on restart.
SESSION_SECRET = os.environ.get("SESSION_SECRET") or secrets.token_hex(32)


async def home(request: Request) -> Response:
    user = request.session.get("user_id")
    return PlainTextResponse(f"Logged in as {user}" if user else "Not logged in: POST /login")


async def login(request: Request) -> Response:
    """A stand-in for your real login: it trusts the user id it is given."""
    form = await request.form()
    user_id = form.get("user_id")
    if not isinstance(user_id, str) or not user_id.strip():
        return PlainTextResponse("user_id is required", status_code=400)
    request.session["user_id"] = user_id
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ],
    middleware=[
        # First: the session must be loaded before the token middleware asks who the user is.
        Middleware(SessionMiddleware, secret_key=SESSION_SECRET),
        # Credentials from ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET; GET /rollout-token.
        Middleware(RolloutTokenMiddleware, resolve_user=session_user("user_id")),
    ],
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rollout tokens in a Starlette app")
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
