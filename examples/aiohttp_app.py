"""An aiohttp app serving Rollout tokens: ``python examples/aiohttp_app.py [--port N]``.

aiohttp-session keeps who is logged in (in an encrypted cookie); ``setup`` adds ``/rollout-token``,
whose ``resolve_user`` reads that same session. Needs ``pip install "rollout-middleware[aiohttp]"``.
Without ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET it runs on throwaway demo credentials and says so.
"""

from __future__ import annotations

import argparse
import html
import os
import secrets
import sys

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from rollout_middleware.contrib import aiohttp as rollout

PAGE = """<!doctype html><meta charset="utf-8"><title>Rollout token demo (aiohttp)</title>
<p>Logged in as: <b>{user}</b></p>
<form method="post" action="login"><input name="username" required><button>Log in</button></form>
<form method="post" action="logout"><button>Log out</button></form>
<pre id="out"></pre><script>fetch("rollout-token").then(r => r.text())
  .then(t => {{ document.getElementById("out").textContent = t; }});</script>"""


async def current_user_id(request: web.Request) -> str | None:
    """The resolver: the user id in the app's own session, or ``None`` (answered 401)."""
    session = await aiohttp_session.get_session(request)
    return session.get("user_id")


async def home(request: web.Request) -> web.Response:
    user = await current_user_id(request)
    return web.Response(
        text=PAGE.format(user=html.escape(user or "nobody")), content_type="text/html"
    )


async def login(request: web.Request) -> web.Response:
    user = str((await request.post()).get("username", "")).strip()
    if not 0 < len(user) <= 64:
        raise web.HTTPBadRequest(text="user names are 1 to 64 characters")
    session = await aiohttp_session.new_session(request)  # a new session at login
    session["user_id"] = user
    raise web.HTTPSeeOther("/")


async def logout(request: web.Request) -> web.Response:
    (await aiohttp_session.get_session(request)).invalidate()
    raise web.HTTPSeeOther("/")


def build_app() -> web.Application:
    client_id = os.environ.get("ROLLOUT_CLIENT_ID")
    client_secret = os.environ.get("ROLLOUT_CLIENT_SECRET")
    if not client_id or not client_secret:
        client_id, client_secret = "demo-client", secrets.token_urlsafe(64)
        print(
            "*** No ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET set: using throwaway DEMO "
            "credentials. Rollout will not accept these tokens. ***",
            file=sys.stderr,
        )
    app = web.Application()
    # A new key per process logs everyone out on restart: keep yours in your secret store.
    aiohttp_session.setup(
        app, EncryptedCookieStorage(secrets.token_bytes(32), httponly=True, samesite="Lax")
    )
    app.add_routes([web.get("/", home), web.post("/login", login), web.post("/logout", logout)])
    rollout.setup(
        app, resolve_user=current_user_id, client_id=client_id, client_secret=client_secret
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    web.run_app(build_app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
