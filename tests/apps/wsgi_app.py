"""WSGI apps with a real login and the token endpoint, for the real-server tests.

``app`` dispatches:

- ``/``: a plain WSGI app with a signed-cookie login, wrapped in ``RolloutTokenWSGIMiddleware``;
- ``/flask``: a Flask app with flask-login and the ``RolloutToken`` extension;
- ``/async``: the plain app again, its token middleware using an ``async`` resolver.

The two middleware stacks, and the app inside each, run under ``wsgiref.validate.validator``. The
Flask app cannot: gunicorn and waitress set ``wsgi.input_terminated``, and then Werkzeug reads a
form with ``wsgi.input.read()`` and no size, an extension the strict validator refuses. (The
in-process Flask tests run it under the validator, where Werkzeug bounds the reads itself.)

The Rollout client id and secret come from ``ROLLOUT_CLIENT_ID`` and ``ROLLOUT_CLIENT_SECRET``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from wsgiref.validate import validator

from flask import Flask, Response, request
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from itsdangerous import BadSignature, Signer
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from rollout_middleware import RolloutTokenWSGIMiddleware
from rollout_middleware.contrib.flask import RolloutToken

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

USERS = {"alice": "wonderland", "bob": "builder"}
COOKIE = "demo_user"
_signer = Signer("wsgi-test-cookie-key")


def cookie_user(environ: WSGIEnvironment) -> str | None:
    """The user named by the signed login cookie, or ``None``."""
    cookie = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(COOKIE)
    if cookie is None:
        return None
    try:
        return _signer.unsign(cookie.value).decode()
    except BadSignature:
        return None


async def async_cookie_user(environ: WSGIEnvironment) -> str | None:
    await asyncio.sleep(0)  # a real await: this resolver needs an event loop
    return cookie_user(environ)


def _answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str = "application/json",
    extra: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


def _stream() -> Iterator[bytes]:
    for n in range(3):
        yield b"chunk %d\n" % n


def routes(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The plain app: a home page, a form login, a logout and a streaming route."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    root = environ.get("SCRIPT_NAME", "")
    if path == "/" and method == "GET":
        body = json.dumps({"user": cookie_user(environ), "mount": root}).encode()
        return _answer(start_response, "200 OK", body)
    if path == "/login" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(length).decode())
        username = form.get("username", [""])[0]
        if USERS.get(username) != form.get("password", [""])[0]:
            return _answer(start_response, "403 Forbidden", b"bad credentials", "text/plain")
        signed = _signer.sign(username).decode()
        cookie = f"{COOKIE}={signed}; Path=/; HttpOnly; SameSite=Lax"
        return _answer(
            start_response,
            "303 See Other",
            b"",
            "text/plain",
            [("Location", root + "/"), ("Set-Cookie", cookie)],
        )
    if path == "/logout" and method == "POST":
        cookie = f"{COOKIE}=; Path=/; Max-Age=0"
        return _answer(start_response, "200 OK", b"bye", "text/plain", [("Set-Cookie", cookie)])
    if path == "/stream" and method == "GET":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream()
    return _answer(start_response, "404 Not Found", b"not here", "text/plain")


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def build_flask_app() -> Flask:
    """A Flask app with a flask-login form login and the ``RolloutToken`` extension."""
    flask_app = Flask(__name__)
    flask_app.config["SECRET_KEY"] = "wsgi-test-flask-key"
    manager = LoginManager(flask_app)

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        return User(user_id) if user_id in USERS else None

    @flask_app.post("/login")
    def login() -> Any:
        username = request.form.get("username", "")
        if USERS.get(username) != request.form.get("password"):
            return "bad credentials", 403
        login_user(User(username))
        return {"user": username}

    @flask_app.post("/logout")
    def logout() -> Any:
        logout_user()
        return "bye"

    @flask_app.get("/")
    def home() -> Any:
        return {"user": current_user.get_id(), "mount": request.script_root}

    @flask_app.get("/stream")
    def stream() -> Response:
        return Response((f"flask chunk {n}\n" for n in range(3)), mimetype="text/plain")

    RolloutToken(flask_app, resolve_user=lambda: current_user.get_id())
    return flask_app


def build_app() -> WSGIApplication:
    plain = RolloutTokenWSGIMiddleware(validator(routes), resolve_user=cookie_user)
    with_async = RolloutTokenWSGIMiddleware(validator(routes), resolve_user=async_cookie_user)
    return DispatcherMiddleware(
        validator(plain), {"/flask": build_flask_app(), "/async": validator(with_async)}
    )


app = build_app()
