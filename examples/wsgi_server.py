"""A plain WSGI app serving Rollout tokens: ``python examples/wsgi_server.py [--port N]``.

Standard library only (``wsgiref.simple_server``) plus this package. A login form signs the user's
name into a cookie; ``RolloutTokenWSGIMiddleware`` answers ``/rollout-token`` for that user and
passes every other request to the app.

Without ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET in the environment it runs on throwaway demo
credentials and says so.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import os
import re
import secrets
import sys
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from rollout_middleware import RolloutTokenWSGIMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

COOKIE = "demo_user"
#: Signs the login cookie; a new key per process logs everyone out on restart.
COOKIE_KEY = secrets.token_bytes(32)
USER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

PAGE = """<!doctype html><meta charset="utf-8"><title>Rollout token demo (WSGI)</title>
<h1>Rollout token demo (WSGI)</h1>
<p>Logged in as: <b>{user}</b></p>
<form method="post" action="login"><input name="username" placeholder="user name" required>
<button>Log in</button></form>
<form method="post" action="logout"><button>Log out</button></form>
<pre id="out">fetching rollout-token ...</pre>
<script>
fetch("rollout-token").then(async r => {{
  const d = await r.json();
  if (!r.ok) throw new Error(r.status + " " + d.detail);
  return JSON.parse(atob(d.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}}).then(claims => {{ document.getElementById("out").textContent = JSON.stringify(claims, null, 2); }},
        error => {{ document.getElementById("out").textContent = String(error); }});
</script>"""


def _signature(user: str) -> str:
    return hmac.new(COOKIE_KEY, user.encode(), hashlib.sha256).hexdigest()


def cookie_user(environ: WSGIEnvironment) -> str | None:
    """The resolver: the user name in the signed login cookie, or ``None`` (answered 401)."""
    morsel = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(COOKIE)
    if morsel is None or "|" not in morsel.value:
        return None
    user, signature = morsel.value.rsplit("|", 1)
    return user if hmac.compare_digest(signature, _signature(user)) else None


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The app itself: a home page, a login and a logout. It knows nothing of Rollout."""
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    home = environ.get("SCRIPT_NAME", "") + "/"
    if path == "/" and method in ("GET", "HEAD"):
        body = PAGE.format(user=html.escape(cookie_user(environ) or "nobody")).encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]
    if path in ("/login", "/logout") and method == "POST":
        cookie = f"{COOKIE}=; Path=/; Max-Age=0"
        if path == "/login":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
            user = form.get("username", [""])[0].strip()
            if not USER_NAME.fullmatch(user):
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [b"user names are 1 to 64 letters, digits, '_', '.' or '-'"]
            cookie = f"{COOKIE}={user}|{_signature(user)}; Path=/; HttpOnly; SameSite=Lax"
        start_response(
            "303 See Other",
            [("Location", home), ("Set-Cookie", cookie), ("Content-Length", "0")],
        )
        return []
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]


def build_app() -> WSGIApplication:
    client_id = os.environ.get("ROLLOUT_CLIENT_ID")
    client_secret = os.environ.get("ROLLOUT_CLIENT_SECRET")
    if not client_id or not client_secret:
        client_id, client_secret = "demo-client", secrets.token_urlsafe(64)
        print(
            "*** No ROLLOUT_CLIENT_ID/ROLLOUT_CLIENT_SECRET set: using throwaway DEMO credentials. "
            "Rollout will not accept these tokens. ***",
            file=sys.stderr,
        )
    return RolloutTokenWSGIMiddleware(
        app, resolve_user=cookie_user, client_id=client_id, client_secret=client_secret
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with make_server(args.host, args.port, build_app()) as server:
        print(f"Serving on http://{args.host}:{args.port}/", file=sys.stderr)
        server.serve_forever()


if __name__ == "__main__":
    main()
