"""Rollout tokens in a Litestar app, with Litestar's own SessionAuth: the smallest complete wiring.

    pip install "rollout-middleware[litestar]" uvicorn
    ROLLOUT_CLIENT_ID=... ROLLOUT_CLIENT_SECRET=... python examples/litestar_app.py [--port 8000]

Log in with ``curl -c jar -d user_id=ada http://127.0.0.1:8000/login``, then
``curl -b jar http://127.0.0.1:8000/rollout-token``. The token's route is in ``/schema``.
"""

from __future__ import annotations

import argparse
from typing import Annotated, Any

import uvicorn
from litestar import Litestar, Request, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.params import Body
from litestar.response import Redirect, Response
from litestar.security.session_auth import SessionAuth

from rollout_middleware.contrib.litestar import RolloutTokenPlugin

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def retrieve_user(
    session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]
) -> str | None:
    """A stand-in for your user lookup: the user is the id the session holds."""
    return session.get("user_id")


async def current_user_id(request: Request[str, Any, Any]) -> str:
    """The token's user: whoever SessionAuth authenticated (an anonymous request gets its 401)."""
    return request.user


@get("/", exclude_from_auth=True)
async def home(request: Request[Any, Any, Any]) -> str:
    user = request.session.get("user_id") if request.session else None
    return f"Logged in as {user}" if user else "Not logged in: POST /login"


@post("/login", exclude_from_auth=True)
async def login(request: Request[Any, Any, Any], data: Form) -> Redirect | Response[str]:
    """A stand-in for your real login: it trusts the user id it is given."""
    if not data.get("user_id", "").strip():
        return Response("user_id is required", status_code=400)
    request.set_session({"user_id": data["user_id"].strip()})
    return Redirect("/", status_code=303)


@post("/logout")
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    request.clear_session()
    return Redirect("/", status_code=303)


session_auth = SessionAuth[str, Any](
    retrieve_user_handler=retrieve_user,
    session_backend_config=ServerSideSessionConfig(),
    exclude=["/schema"],
)
# Credentials from ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET, read at the first token request.
app = Litestar(
    [home, login, logout],
    on_app_init=[session_auth.on_app_init],
    plugins=[RolloutTokenPlugin(current_user_id)],
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rollout tokens in a Litestar app")
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port)
