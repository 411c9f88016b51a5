"""Rollout tokens in a Quart app, with quart-auth's login: the smallest complete wiring.

    pip install "rollout-middleware[quart]" quart-auth
    ROLLOUT_CLIENT_ID=... ROLLOUT_CLIENT_SECRET=... python examples/quart_app.py [--port 8000]

Log in with ``curl -c jar -d user_id=ada http://127.0.0.1:8000/login``, then
``curl -b jar http://127.0.0.1:8000/rollout-token``.
"""

from __future__ import annotations

import argparse
import os
import secrets

from quart import Quart, redirect, request
from quart_auth import AuthUser, QuartAuth, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from rollout_middleware.contrib.quart import RolloutToken

app = Quart(__name__)
app.secret_key = os.environ.get("SESSION_SECRET") or secrets.token_hex(32)
# Plain http on 127.0.0.1 for the demo; behind https keep quart-auth's default (Secure cookies).
app.config["QUART_AUTH_COOKIE_SECURE"] = False
QuartAuth(app)


async def current_user_id() -> str | None:
    """The resolver runs in the request context, so quart-auth's current_user works in it."""
    return current_user.auth_id if await current_user.is_authenticated else None


# Credentials from ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET (or app.config); GET /rollout-token.
RolloutToken(app, resolve_user=current_user_id)


@app.get("/")
async def home() -> str:
    user = await current_user_id()
    return f"Logged in as {user}" if user else "Not logged in: POST /login"


@app.post("/login")
async def login() -> Response | tuple[str, int]:
    """A stand-in for your real login: it trusts the user id it is given."""
    user_id = (await request.form).get("user_id", "").strip()
    if not user_id:
        return "user_id is required", 400
    login_user(AuthUser(user_id))
    return redirect("/", code=303)


@app.post("/logout")
async def logout() -> Response:
    logout_user()
    return redirect("/", code=303)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rollout tokens in a Quart app")
    parser.add_argument("--port", type=int, default=8000)
    app.run(host="127.0.0.1", port=parser.parse_args().port)
