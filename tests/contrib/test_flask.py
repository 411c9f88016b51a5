"""The Flask extension in real Flask apps: session login, flask-login, and the rest of the app.

Every request goes through ``wsgiref.validate.validator`` around the whole Flask app, on the token
path and on the app's own routes alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest
from flask import (
    Flask,
    Response,
    g,
    jsonify,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client, TestResponse

from rollout_middleware import ConfigurationError, RolloutTokenWSGIMiddleware, TokenIssuer
from rollout_middleware.contrib.flask import RolloutToken

from ..support import CLIENT_ID, SECRET, verify_token

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

USERS = {"alice": "wonderland", "bob": "builder"}
TOKEN_HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
]


class ValidatedClient(Client):
    """Werkzeug's test client, keeping cookies, over the app under ``wsgiref.validate``.

    Responses are buffered, so the app's iterable is always closed, as the validator demands.
    """

    def __init__(self, app: WSGIApplication) -> None:
        super().__init__(validator(app), use_cookies=True)

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


def login_form(username: str, password: str | None = None) -> dict[str, str]:
    return {"username": username, "password": USERS[username] if password is None else password}


def build_app(*, resolve_user: Callable[[], Any] | None = None, **options: Any) -> Flask:
    """A small Flask app with a session login, its own 404/500 handlers and a streaming route."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="flask-test-key", ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SECRET
    )

    @app.post("/login")
    def login() -> Any:
        username = request.form["username"]
        if USERS.get(username) != request.form["password"]:
            return "bad credentials", 403
        session["user_id"] = username
        return "welcome"

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return "bye"

    @app.get("/")
    def home() -> Any:
        return jsonify(user=session.get("user_id"))

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for n in range(3):
                yield f"chunk {n} for {session.get('user_id')}\n"

        return Response(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("the app's own failure")

    @app.errorhandler(404)
    def not_found(error: Exception) -> Any:
        return jsonify(error="the app's 404"), 404

    @app.errorhandler(500)
    def server_error(error: Exception) -> Any:
        return jsonify(error="the app's 500"), 500

    RolloutToken(app, resolve_user=resolve_user or (lambda: session.get("user_id")), **options)
    return app


@pytest.fixture
def app() -> Flask:
    return build_app()


@pytest.fixture
def client(app: Flask) -> ValidatedClient:
    return ValidatedClient(app)


def assert_token_answer(response: TestResponse, subject: str, **verify: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.data
    assert [(k, v) for k, v in response.headers if k in dict(TOKEN_HEADERS)] == TOKEN_HEADERS
    assert response.headers["Content-Length"] == str(len(response.data))
    body = json.loads(response.data)
    assert list(body) == ["token", "expires_at", "expires_in"]
    claims = verify_token(body["token"], **verify)
    assert claims["sub"] == subject
    assert body["expires_at"] == claims["exp"]
    assert body["expires_in"] == claims["exp"] - claims["iat"]
    return claims


# --- logging in through Flask's session -------------------------------------------------------


def test_session_login_gets_a_token_for_the_logged_in_user(client: ValidatedClient) -> None:
    anonymous = client.get("/rollout-token")
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    assert json.loads(anonymous.data)["status"] == 401

    assert client.post("/login", data=login_form("alice", "wrong")).status_code == 403
    assert client.get("/rollout-token").status_code == 401
    assert client.post("/login", data=login_form("alice")).status_code == 200
    assert_token_answer(client.get("/rollout-token"), "alice")

    client.post("/logout")
    assert client.get("/rollout-token").status_code == 401
    client.post("/login", data=login_form("bob"))
    assert_token_answer(client.get("/rollout-token"), "bob")


def test_each_request_gets_a_fresh_token_for_its_own_session(app: Flask) -> None:
    alice, bob = ValidatedClient(app), ValidatedClient(app)
    alice.post("/login", data=login_form("alice"))
    bob.post("/login", data=login_form("bob"))
    assert_token_answer(alice.get("/rollout-token"), "alice")
    assert_token_answer(bob.get("/rollout-token"), "bob")
    assert ValidatedClient(app).get("/rollout-token").status_code == 401


def test_the_token_answer_varies_on_the_session_cookie(client: ValidatedClient) -> None:
    """Flask marks the answer ``Vary: Cookie``, because the resolver read the session."""
    client.post("/login", data=login_form("alice"))
    assert client.get("/rollout-token").headers.get("Vary") == "Cookie"


def test_a_before_request_user_loader_runs_before_the_resolver() -> None:
    """The ``g.user`` pattern of Flask's tutorial: the view runs after the app's hooks."""
    app = build_app(resolve_user=lambda: g.user)

    @app.before_request
    def load_user() -> None:
        g.user = session.get("user_id")

    client = ValidatedClient(app)
    assert client.get("/rollout-token").status_code == 401
    client.post("/login", data=login_form("bob"))
    assert_token_answer(client.get("/rollout-token"), "bob")


def test_an_async_resolver_reads_the_session() -> None:
    async def resolve() -> Any:
        return session.get("user_id")

    client = ValidatedClient(build_app(resolve_user=resolve))
    assert client.get("/rollout-token").status_code == 401
    client.post("/login", data=login_form("alice"))
    assert_token_answer(client.get("/rollout-token"), "alice")


# --- flask-login ------------------------------------------------------------------------------


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def build_login_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="flask-login-key", ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SECRET
    )
    manager = LoginManager(app)

    @manager.user_loader
    def load_user(user_id: str) -> User | None:
        return User(user_id) if user_id in USERS else None

    @app.post("/login")
    def login() -> Any:
        username = request.form["username"]
        if USERS.get(username) != request.form["password"]:
            return "bad credentials", 403
        login_user(User(username), remember=request.form.get("remember") == "yes")
        return "welcome"

    @app.post("/logout")
    def logout() -> Any:
        logout_user()
        return "bye"

    RolloutToken(app, resolve_user=lambda: current_user.get_id())
    return app


def test_flask_login_current_user() -> None:
    client = ValidatedClient(build_login_app())
    assert client.get("/rollout-token").status_code == 401  # AnonymousUserMixin.get_id() is None
    client.post("/login", data=login_form("bob"))
    assert_token_answer(client.get("/rollout-token"), "bob")
    client.post("/logout")
    assert client.get("/rollout-token").status_code == 401


def test_flask_login_remember_me_restores_and_saves_the_session() -> None:
    """With only the remember-me cookie left, flask-login restores the user, and the session that
    it rebuilt is saved on the token answer, as on any route of the app."""
    client = ValidatedClient(build_login_app())
    client.post("/login", data={**login_form("alice"), "remember": "yes"})
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")  # the browser session ended; the remember-me cookie stays

    answer = client.get("/rollout-token")
    assert_token_answer(answer, "alice")
    assert any(c.startswith("session=") for c in answer.headers.getlist("Set-Cookie"))
    assert client.get_cookie("session") is not None


# --- the rest of the app is unaffected ---------------------------------------------------------


def test_the_apps_own_routes_and_error_handlers_still_answer(client: ValidatedClient) -> None:
    client.post("/login", data=login_form("alice"))
    assert client.get("/").get_json() == {"user": "alice"}
    assert client.get("/nothing-here").get_json() == {"error": "the app's 404"}
    # No trailing-slash guessing: another path, answered by the app.
    slash = client.get("/rollout-token/")
    assert (slash.status_code, slash.get_json()) == (404, {"error": "the app's 404"})
    boom = client.get("/boom")
    assert (boom.status_code, boom.get_json()) == (500, {"error": "the app's 500"})


def test_a_streaming_response_still_streams(app: Flask) -> None:
    environ: dict[str, Any] = {"PATH_INFO": "/stream", "SCRIPT_NAME": "", "QUERY_STRING": ""}
    setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    result = validator(app)(environ, start_response)
    try:
        chunks = iter(result)
        assert next(chunks) == b"chunk 0 for None\n"  # produced lazily, one at a time
        assert started[0][0] == "200 OK"
        assert "Content-Length" not in dict(started[0][1])
        assert list(chunks) == [b"chunk 1 for None\n", b"chunk 2 for None\n"]
    finally:
        result.close()  # type: ignore[attr-defined]


def test_resolver_failure_is_the_token_endpoints_500_not_the_apps(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def resolve() -> Any:
        raise RuntimeError("database down, secret is " + SECRET)

    client = ValidatedClient(build_app(resolve_user=resolve))
    with caplog.at_level(logging.ERROR, logger="rollout_middleware"):
        answer = client.get("/rollout-token")
    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert SECRET not in answer.get_data(as_text=True)
    assert [r.name for r in caplog.records] == ["rollout_middleware"]
    assert client.get("/boom").get_json() == {"error": "the app's 500"}


# --- the same answers as the WSGI middleware ---------------------------------------------------


def _plain_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return []


CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("GET", {}, b""),
    ("HEAD", {}, b""),
    ("GET", {"X-User": "carol"}, b""),
    ("HEAD", {"X-User": "carol"}, b""),
    ("POST", {"X-User": "carol"}, b"x=1"),
    ("DELETE", {}, b""),
    ("PATCH", {}, b""),
    (
        "GET",
        {"X-User": "carol", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.test"},
        b"",
    ),
    ("GET", {"X-User": "carol", "Sec-Fetch-Site": "cross-site", "Origin": "https://app.test"}, b""),
    ("OPTIONS", {"Origin": "https://app.test", "Access-Control-Request-Method": "GET"}, b""),
    ("OPTIONS", {"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"}, b""),
    ("PUT", {"X-User": "carol"}, b"x" * 100),
    ("PUT", {"X-User": "carol"}, b"x" * 10),
    ("GET", {"X-User": " "}, b""),
]


@pytest.mark.parametrize(("method", "headers", "body"), CASES)
def test_answers_match_the_wsgi_middleware(
    method: str, headers: dict[str, str], body: bytes
) -> None:
    options: dict[str, Any] = {
        "methods": ("GET", "PUT"),
        "allowed_origins": ("https://app.test",),
        "max_body_size": 50,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    flask_app = Flask(__name__)
    RolloutToken(flask_app, resolve_user=lambda: request.headers.get("X-User"), **options)
    middleware = RolloutTokenWSGIMiddleware(
        _plain_app, resolve_user=lambda environ: environ.get("HTTP_X_USER"), **options
    )
    ours = ValidatedClient(flask_app).open(
        "/rollout-token", method=method, headers=headers, data=body
    )
    theirs = ValidatedClient(middleware).open(
        "/rollout-token", method=method, headers=headers, data=body
    )
    assert ours.status == theirs.status
    assert list(ours.headers) == list(theirs.headers)
    if ours.status_code == 200 and method == "GET":
        assert_token_answer(ours, "carol")
        assert len(ours.data) == len(theirs.data)
    else:
        assert ours.data == theirs.data


class SocketLikeInput:
    """A request body that, like a socket, has no end of its own: reading past it would block."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        if not self._data:
            raise AssertionError("read past the request body: a real server would block here")
        chunk, self._data = (
            (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        )
        return chunk

    def readline(self, size: int = -1) -> bytes:
        raise NotImplementedError


def test_the_request_body_is_drained_after_the_app_read_it() -> None:
    """A ``before_request`` hook that parses the form (as CSRF protection does) leaves nothing
    for the token view to read: it must not read past the body (on a socket, that blocks)."""
    app = build_app(methods=("POST",))

    @app.before_request
    def read_form() -> None:
        g.form = request.form.to_dict()

    def socket_like(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = SocketLikeInput(environ["wsgi.input"].read(length))
        return app(environ, start_response)

    client = ValidatedClient(socket_like)
    client.post("/login", data=login_form("alice"))
    assert_token_answer(client.post("/rollout-token", data={"csrf": "x" * 100}), "alice")
    assert_token_answer(client.post("/rollout-token"), "alice")


# --- wiring and configuration ------------------------------------------------------------------


def test_application_factory_and_app_extensions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    rollout = RolloutToken(resolve_user=lambda: request.args.get("user"))

    def create_app(client_id: str) -> Flask:
        app = Flask(__name__)
        app.config.update(ROLLOUT_CLIENT_ID=client_id, ROLLOUT_CLIENT_SECRET=SECRET)
        rollout.init_app(app)
        return app

    first, second = create_app("first-client"), create_app("second-client")
    assert first.extensions["rollout_token"] is rollout
    assert second.extensions["rollout_token"] is rollout
    assert_token_answer(
        ValidatedClient(first).get("/rollout-token?user=u1"), "u1", client_id="first-client"
    )
    assert_token_answer(
        ValidatedClient(second).get("/rollout-token?user=u2"), "u2", client_id="second-client"
    )
    with first.test_request_context():
        assert url_for("rollout_token") == "/rollout-token"
    assert SECRET not in repr(rollout)


def test_settings_from_app_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_TOKEN_PATH", "/from-env")
    app = Flask(__name__)
    app.config.update(
        ROLLOUT_CLIENT_ID="config-client",
        ROLLOUT_CLIENT_SECRET=SECRET,
        ROLLOUT_TOKEN_PATH="/api/rollout/token",
        ROLLOUT_TOKEN_TTL=60,
        ROLLOUT_TOKEN_METHODS=["POST"],
    )
    RolloutToken(app, resolve_user=lambda: "dora")
    client = ValidatedClient(app)
    assert client.get("/from-env").status_code == 404
    assert_token_answer(
        client.post("/api/rollout/token"), "dora", client_id="config-client", ttl=60
    )
    refused = client.get("/api/rollout/token")
    assert (refused.status_code, refused.headers["Allow"]) == (405, "POST")


def test_settings_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "env-client")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ROLLOUT_TOKEN_PATH", "/env-token")
    monkeypatch.setenv("ROLLOUT_TOKEN_TTL", "120")
    monkeypatch.setenv("ROLLOUT_TOKEN_METHODS", "GET, POST")
    monkeypatch.setenv("ROLLOUT_ALLOWED_ORIGINS", "https://a.test,https://b.test")
    monkeypatch.setenv("ROLLOUT_MAX_BODY_SIZE", "4")
    app = Flask(__name__)
    RolloutToken(app, resolve_user=lambda: "erin")
    client = ValidatedClient(app)
    assert_token_answer(client.get("/env-token"), "erin", client_id="env-client", ttl=120)
    assert_token_answer(client.post("/env-token"), "erin", client_id="env-client", ttl=120)
    assert client.post("/env-token", data=b"12345").status_code == 413
    preflight = client.options(
        "/env-token", headers={"Origin": "https://b.test", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://b.test"
    assert "Content-Type" not in preflight.headers


def test_keyword_arguments_win_over_config_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROLLOUT_TOKEN_TTL", "120")
    app = Flask(__name__)
    app.config.update(
        ROLLOUT_CLIENT_ID="config-client",
        ROLLOUT_CLIENT_SECRET="not-this-one",
        ROLLOUT_TOKEN_TTL=60,
    )
    RolloutToken(
        app,
        resolve_user=lambda: "frank",
        client_id="kwarg-client",
        client_secret=SECRET,
        ttl=300,
        path="/kw",
    )
    assert_token_answer(ValidatedClient(app).get("/kw"), "frank", client_id="kwarg-client", ttl=300)


def test_an_issuer_replaces_the_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    app = Flask(__name__)
    issuer = TokenIssuer("issuer-client", SECRET, ttl=30)
    RolloutToken(app, resolve_user=lambda: "gina", issuer=issuer)
    assert_token_answer(
        ValidatedClient(app).get("/rollout-token"), "gina", client_id="issuer-client", ttl=30
    )
    with pytest.raises(ConfigurationError, match="not both"):
        RolloutToken(Flask(__name__), resolve_user=lambda: "x", issuer=issuer, ttl=60)


def test_the_on_issue_hook_runs_in_the_request_context() -> None:
    seen: list[tuple[str, int, dict[str, Any], str]] = []
    app = Flask(__name__)
    app.config.update(ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SECRET)
    RolloutToken(
        app,
        resolve_user=lambda: "hana",
        on_issue=lambda user, exp, info: seen.append(
            (user, exp, dict(info), request.headers["X-Trace"])
        ),
    )
    answer = ValidatedClient(app).get(
        "/rollout-token", headers={"X-Trace": "t-1"}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    claims = assert_token_answer(answer, "hana")
    assert seen == [
        (
            "hana",
            claims["exp"],
            {"method": "GET", "path": "/rollout-token", "client": "10.1.2.3"},
            "t-1",
        )
    ]


def test_mounted_under_a_script_name(app: Flask) -> None:
    """Under a WSGI mount the route is relative to SCRIPT_NAME, and ``url_for`` knows it."""
    mounted = DispatcherMiddleware(_plain_app, {"/portal": app})
    client = ValidatedClient(mounted)
    client.post("/portal/login", data=login_form("alice"))
    assert_token_answer(client.get("/portal/rollout-token"), "alice")
    assert client.get("/rollout-token").status_code == 404
    with app.test_request_context(base_url="http://localhost/portal"):
        assert url_for("rollout_token") == "/portal/rollout-token"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"ROLLOUT_CLIENT_ID": 12},
            r"^ROLLOUT_CLIENT_ID \(app.config\): .*client id must be a str",
        ),
        ({"ROLLOUT_CLIENT_SECRET": 12}, r"^ROLLOUT_CLIENT_SECRET \(app.config\): .* got int$"),
        ({"ROLLOUT_TOKEN_TTL": "soon"}, r"^ROLLOUT_TOKEN_TTL \(app.config\): ttl must be a whole"),
        ({"ROLLOUT_TOKEN_TTL": 99999}, "ttl must be"),
        ({"ROLLOUT_TOKEN_PATH": "no-slash"}, "path must be"),
        ({"ROLLOUT_TOKEN_PATH": "/a b"}, "path must be"),
        ({"ROLLOUT_TOKEN_METHODS": ["get"]}, "upper-case"),
        ({"ROLLOUT_TOKEN_METHODS": ["OPTIONS"]}, "OPTIONS"),
        ({"ROLLOUT_ALLOWED_ORIGINS": "https://a.test/"}, "each allowed origin must be"),
        ({"ROLLOUT_TOKEN_TTL": "0"}, "ROLLOUT_TOKEN_TTL .*ttl must be"),
        ({"ROLLOUT_MAX_BODY_SIZE": "-4"}, "ROLLOUT_MAX_BODY_SIZE .*max_body_size must be a whole"),
        ({"ROLLOUT_TOKEN_METHODS": "GET,post"}, "ROLLOUT_TOKEN_METHODS .*upper-case"),
        ({"ROLLOUT_RESOLVER_TIMEOUT": "later"}, "ROLLOUT_RESOLVER_TIMEOUT"),
        ({"ROLLOUT_MAX_BODY_SIZE": -1}, "max_body_size"),
    ],
)
def test_wrong_settings_fail_at_init_app(
    config: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    app = Flask(__name__)
    app.config.update({"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET, **config})
    rollout = RolloutToken(resolve_user=lambda: "x")
    with pytest.raises(ConfigurationError, match=message) as caught:
        rollout.init_app(app)
    assert SECRET not in str(caught.value)
    assert "rollout_token" not in app.extensions
    assert "rollout_token" not in app.view_functions


def test_wiring_mistakes_fail_at_setup() -> None:
    with pytest.raises(ConfigurationError, match="resolve_user"):
        RolloutToken(resolve_user="session")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="endpoint"):
        RolloutToken(resolve_user=lambda: None, endpoint="")
    app = build_app()
    with pytest.raises(ConfigurationError, match="already has its Rollout token route"):
        RolloutToken(app, resolve_user=lambda: None)
    other = Flask(__name__)
    other.add_url_rule("/mine", "rollout_token", lambda: "mine")
    with pytest.raises(ConfigurationError, match="already has a view"):
        RolloutToken(other, resolve_user=lambda: None, client_id=CLIENT_ID, client_secret=SECRET)
    with pytest.raises(ConfigurationError, match=r"must take no arguments.*the scope or environ"):
        RolloutToken(resolve_user=lambda environ: None)
    routed = Flask(__name__)
    routed.add_url_rule("/rollout-token", "my_token", lambda: "mine")
    with pytest.raises(ConfigurationError, match="already has a route at '/rollout-token'"):
        RolloutToken(routed, resolve_user=lambda: None, client_id=CLIENT_ID, client_secret=SECRET)
    named = Flask(__name__)
    RolloutToken(
        named,
        resolve_user=lambda: "ivan",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        endpoint="api.rollout",
    )
    with named.test_request_context():
        assert url_for("api.rollout") == "/rollout-token"


async def slow_user() -> str:
    await asyncio.sleep(0.3)
    return "jo"


@pytest.mark.parametrize(
    ("environ_value", "config_value", "keyword", "status"),
    [
        ("0.05", None, "unset", 503),  # from the environment
        (None, 0.05, "unset", 503),  # a number in app.config
        ("0.05", "none", "unset", 200),  # app.config wins: no limit
        (None, "none", 0.05, 503),  # the keyword wins
        ("0.05", 0.05, None, 200),  # the keyword None: no limit
    ],
)
def test_the_resolver_timeout_setting(
    environ_value: str | None,
    config_value: object,
    keyword: object,
    status: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if environ_value is not None:
        monkeypatch.setenv("ROLLOUT_RESOLVER_TIMEOUT", environ_value)
    app = Flask(__name__)
    app.config.update(
        ROLLOUT_CLIENT_ID=CLIENT_ID,
        ROLLOUT_CLIENT_SECRET=SECRET,
        ROLLOUT_RESOLVER_TIMEOUT=config_value,
    )
    options = {} if keyword == "unset" else {"resolver_timeout": keyword}
    RolloutToken(app, resolve_user=slow_user, **options)
    answer = ValidatedClient(app).get("/rollout-token")
    assert answer.status_code == status


def test_the_apps_own_refusal_keeps_the_cors_headers() -> None:
    """``abort(401)`` in the resolver, or a blueprint's login hook, is the app's answer; a page of
    an allowed origin can read it, as it reads the route's own answers."""
    from flask import Blueprint, abort

    origin = "https://app.example.com"
    app = Flask(__name__)
    RolloutToken(
        app,
        resolve_user=lambda: abort(401),
        allowed_origins=(origin,),
        client_id=CLIENT_ID,
        client_secret=SECRET,
    )
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.before_request
    def login_required() -> Any:
        return abort(401) if request.headers.get("x-user") is None else None

    RolloutToken(api, resolve_user=lambda: request.headers["x-user"], allowed_origins=(origin,))
    app.config.update(ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SECRET)
    app.register_blueprint(api)

    @app.get("/other")
    def other() -> Any:
        abort(401)

    client = app.test_client()
    for url in ("/rollout-token", "/api/rollout-token"):
        refused = client.get(url, headers={"Origin": origin})
        assert refused.status_code == 401
        assert refused.headers["Access-Control-Allow-Origin"] == origin
        assert refused.headers["Vary"] == "Origin"
        elsewhere = client.get(url, headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in elsewhere.headers
    served = client.get("/api/rollout-token", headers={"Origin": origin, "X-User": "ada"})
    assert served.status_code == 200
    assert served.headers.getlist("Access-Control-Allow-Origin") == [origin]
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/other", headers={"Origin": origin}).headers
    )


def test_an_extension_added_after_the_first_request_still_adds_its_cors_hook() -> None:
    from flask import abort

    origin = "https://app.example.com"
    app = Flask(__name__)
    app.config.update(ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SECRET)
    client = app.test_client()
    assert client.get("/").status_code == 404  # the app has served a request
    RolloutToken(app, resolve_user=lambda: abort(401), allowed_origins=(origin,))
    refused = client.get("/rollout-token", headers={"Origin": origin})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == origin


def test_without_allowed_origins_the_app_gets_no_after_request_hook() -> None:
    """The CORS hook runs on every request of the app: it is added only where it can matter."""
    app = Flask(__name__)
    RolloutToken(app, resolve_user=lambda: None, client_id=CLIENT_ID, client_secret=SECRET)
    assert app.after_request_funcs.get(None, []) == []
    other = Flask(__name__)
    RolloutToken(other, resolve_user=lambda: None, allowed_origins=("https://app.example.com",))
    assert len(other.after_request_funcs[None]) == 1
