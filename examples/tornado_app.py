"""A Tornado app serving Rollout tokens: ``python examples/tornado_app.py [--port N]``.

The app's ``BaseHandler.get_current_user`` reads a signed cookie (``set_signed_cookie``); the token
handler is built on that same base, so Tornado's own auth decides whose token it is. Needs
``pip install "rollout-middleware[tornado]"``. Without ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET it
runs on throwaway demo credentials and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import secrets
import sys

import tornado.web

from rollout_middleware.contrib.tornado import rollout_token_handler

PAGE = """<!doctype html><meta charset="utf-8"><title>Rollout token demo (Tornado)</title>
<p>Logged in as: <b>{user}</b></p>
<form method="post" action="login">{xsrf}<input name="username" required><button>Log in</button></form>
<form method="post" action="logout">{xsrf}<button>Log out</button></form>
<pre id="out"></pre><script>fetch("rollout-token").then(r => r.text())
  .then(t => {{ document.getElementById("out").textContent = t; }});</script>"""


class BaseHandler(tornado.web.RequestHandler):
    def get_current_user(self) -> str | None:
        user = self.get_signed_cookie("user", max_age_days=1)
        return None if user is None else user.decode()


class HomeHandler(BaseHandler):
    def get(self) -> None:
        user = html.escape(self.current_user or "nobody")
        self.finish(PAGE.format(user=user, xsrf=self.xsrf_form_html()))


class LoginHandler(BaseHandler):
    def post(self) -> None:
        user = self.get_body_argument("username", "").strip()
        if not 0 < len(user) <= 64:
            raise tornado.web.HTTPError(400, "user names are 1 to 64 characters")
        self.set_signed_cookie("user", user, httponly=True, samesite="Lax")
        self.redirect("/", status=303)


class LogoutHandler(BaseHandler):
    def post(self) -> None:
        self.clear_cookie("user")
        self.redirect("/", status=303)


def build_app() -> tornado.web.Application:
    client_id = os.environ.get("ROLLOUT_CLIENT_ID")
    client_secret = os.environ.get("ROLLOUT_CLIENT_SECRET")
    if not client_id or not client_secret:
        client_id, client_secret = "demo-client", secrets.token_urlsafe(64)
        print(
            "*** No ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET set: using throwaway DEMO "
            "credentials. Rollout will not accept these tokens. ***",
            file=sys.stderr,
        )
    token_handler = rollout_token_handler(
        BaseHandler, client_id=client_id, client_secret=client_secret
    )
    routes = [("/", HomeHandler), ("/login", LoginHandler), ("/logout", LogoutHandler)]
    # A new cookie secret per process logs everyone out on restart: keep yours in a secret store.
    return tornado.web.Application(
        [*routes, (r"/rollout-token", token_handler)],
        cookie_secret=secrets.token_urlsafe(32),
        xsrf_cookies=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    build_app().listen(args.port, address="127.0.0.1")
    print(f"Serving on http://127.0.0.1:{args.port}/", file=sys.stderr)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
