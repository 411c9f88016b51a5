"""The Flask extension in the shape of a real app: the Flask Mega-Tutorial's microblog.

An application factory, extensions first and blueprints after, Flask-Login's session for the
pages, and an API blueprint that authenticates with bearer tokens through Flask-HTTPAuth, with its
own error format. Tests use the app factory and Flask's test client, as Flask's docs do.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
from flask import Blueprint, Flask, abort, jsonify, request, url_for
from flask_httpauth import HTTPTokenAuth
from flask_login import LoginManager, UserMixin, current_user, login_user
from werkzeug.routing import Rule

from rollout_middleware import ConfigurationError
from rollout_middleware.contrib.flask import RolloutToken

from ..support import CLIENT_ID, SECRET, verify_token

API_TOKENS = {"t-alice": "alice", "t-bob": "bob"}


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


class Config:
    SECRET_KEY = "microblog-test-key"
    ROLLOUT_CLIENT_ID = CLIENT_ID
    ROLLOUT_CLIENT_SECRET = SECRET


login = LoginManager()
rollout = RolloutToken(resolve_user=lambda: current_user.get_id())


@login.user_loader
def load_user(user_id: str) -> User:
    return User(user_id)


def create_api_blueprint() -> tuple[Blueprint, HTTPTokenAuth]:
    """microblog's ``app/api``: bearer tokens, its own JSON errors, ``POST /api/tokens``."""
    bp = Blueprint("api", __name__)
    token_auth = HTTPTokenAuth()

    @token_auth.verify_token
    def verify_token_(token: str) -> User | None:
        return User(API_TOKENS[token]) if token in API_TOKENS else None

    @token_auth.error_handler
    def token_auth_error(status: int) -> Any:
        return jsonify(error="Unauthorized", from_api=True), status

    @bp.post("/tokens")
    def get_token() -> Any:
        return {"token": "t-alice"}

    @bp.get("/users/me")
    @token_auth.login_required
    def me() -> Any:
        return {"id": token_auth.current_user().id}

    return bp, token_auth


def create_app(config: type = Config, *, api_token: bool = False) -> Flask:
    """microblog's ``create_app``: the extensions, then the blueprints."""
    app = Flask(__name__)
    app.config.from_object(config)
    login.init_app(app)
    rollout.init_app(app)

    main = Blueprint("main", __name__)

    @main.post("/login/<name>")
    def log_in(name: str) -> str:
        login_user(User(name))
        return "welcome"

    app.register_blueprint(main)
    api, token_auth = create_api_blueprint()
    if api_token:
        RolloutToken(
            api,
            resolve_user=lambda: token_auth.current_user().id,
            decorators=[token_auth.login_required],
        )
    app.register_blueprint(api, url_prefix="/api")
    return app


def sub(response: Any) -> str:
    assert response.status_code == 200, response.data
    return str(verify_token(response.get_json()["token"])["sub"])


# --- 1. a route at the token path is refused whichever comes first ------------------------------


class ClashingConfig(Config):
    ROLLOUT_TOKEN_PATH = "/api/tokens"  # the API blueprint's own POST /api/tokens


def test_a_blueprint_registered_after_the_extension_cannot_shadow_the_token_route() -> None:
    """The factory's usual order: the extension first, the blueprint with ``POST /api/tokens``
    after. Refused when the blueprint is registered, not answered 405 at ``POST /api/tokens``."""
    with pytest.raises(ConfigurationError, match=r"'/api/tokens' \(endpoint 'api.get_token'\)"):
        create_app(ClashingConfig)


def test_a_route_added_after_the_extension_is_refused() -> None:
    app = create_app()
    with pytest.raises(ConfigurationError, match="at the path of the Rollout token route"):

        @app.post("/rollout-token")
        def mine() -> str:
            return "mine"

    assert "mine" not in app.view_functions
    assert [r.endpoint for r in app.url_map.iter_rules() if r.rule == "/rollout-token"] == [
        "rollout_token"
    ]
    assert app.test_client().get("/rollout-token").status_code == 401  # still the token route


def test_a_route_added_before_the_extension_is_refused() -> None:
    app = Flask(__name__)
    app.config.from_object(Config)
    app.add_url_rule("/rollout-token", "mine", lambda: "mine", methods=["POST"])
    with pytest.raises(ConfigurationError, match=r"already has a route at '/rollout-token'"):
        RolloutToken(app, resolve_user=lambda: None)


def test_other_paths_and_the_apps_own_rule_class_are_kept() -> None:
    class MyRule(Rule):
        pass

    class MyFlask(Flask):
        url_rule_class = MyRule

    app = MyFlask(__name__)
    app.config.from_object(Config)
    RolloutToken(app, resolve_user=lambda: "ann")

    @app.get("/rollout-token/<part>")
    def below(part: str) -> str:
        return part

    @app.get("/other")
    def other() -> str:
        return "other"

    assert all(isinstance(rule, MyRule) for rule in app.url_map.iter_rules())
    client = app.test_client()
    assert sub(client.get("/rollout-token")) == "ann"
    assert client.get("/rollout-token/x").text == "x"
    assert client.get("/other").text == "other"


def test_a_route_at_a_blueprint_token_path_is_refused() -> None:
    app = create_app(api_token=True)
    with pytest.raises(ConfigurationError, match=r"endpoint 'api.rollout_token'"):
        app.add_url_rule("/api/rollout-token", "late", lambda: "late")


# --- 2. abort() in the resolver is rendered by the app -------------------------------------------


def test_abort_in_the_resolver_is_rendered_by_the_apps_error_handler() -> None:
    def resolve() -> str | None:
        if request.headers.get("X-Banned"):
            abort(403)
        if current_user.is_anonymous:
            abort(401, "log in first")
        return current_user.get_id()

    app = create_app()
    strict = Blueprint("strict", __name__)
    RolloutToken(strict, resolve_user=resolve)

    @app.errorhandler(401)
    def unauthorized(error: Any) -> Any:
        return jsonify(login="/login", why=error.description), 401

    app.register_blueprint(strict, url_prefix="/strict")
    client = app.test_client()
    refused = client.get("/strict/rollout-token")
    assert (refused.status_code, refused.get_json()) == (
        401,
        {"login": "/login", "why": "log in first"},
    )
    banned = client.get("/strict/rollout-token", headers={"X-Banned": "1"})
    assert banned.status_code == 403
    assert banned.mimetype == "text/html"  # Flask's own rendering of a 403
    client.post("/login/cyd")
    assert sub(client.get("/strict/rollout-token")) == "cyd"


# --- 3. a token route per blueprint, under the blueprint's own auth ------------------------------


def test_the_api_blueprint_serves_tokens_under_its_bearer_auth() -> None:
    app = create_app(api_token=True)
    client = app.test_client()
    # The pages: the session, through Flask-Login.
    assert client.get("/rollout-token").status_code == 401
    client.post("/login/carla")
    assert sub(client.get("/rollout-token")) == "carla"
    # The API: bearer tokens and the API's own error format, on the same app.
    api = app.test_client()
    refused = api.get("/api/rollout-token")
    assert (refused.status_code, refused.get_json()) == (
        401,
        {"error": "Unauthorized", "from_api": True},
    )
    assert "www-authenticate" in {k.lower() for k in refused.headers.keys()}  # noqa: SIM118
    bearer = {"Authorization": "Bearer t-bob"}
    assert sub(api.get("/api/rollout-token", headers=bearer)) == "bob"
    assert api.get("/api/users/me", headers=bearer).get_json() == {"id": "bob"}
    assert api.post("/api/tokens").get_json() == {"token": "t-alice"}
    # Still the core's checks, after the decorator: a cross-site request is refused.
    cross = api.get("/api/rollout-token", headers={**bearer, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    with app.test_request_context():
        from flask import url_for

        assert url_for("api.rollout_token") == "/api/rollout-token"
    assert app.extensions["rollout_token"] is rollout  # the app's own route


def test_the_blueprint_token_route_in_every_app_the_factory_builds() -> None:
    first, second = create_app(api_token=True), create_app(api_token=True)
    for app in (first, second):
        answer = app.test_client().get(
            "/api/rollout-token", headers={"Authorization": "Bearer t-alice"}
        )
        assert sub(answer) == "alice"


def test_the_blueprint_route_reads_the_apps_settings_and_its_decorators_run_first() -> None:
    """docs/flask.md: the same ROLLOUT_* keys, under the blueprint's prefix; decorators first."""

    class TokensAt(Config):
        ROLLOUT_TOKEN_PATH = "/rollout/token"

    app = create_app(TokensAt, api_token=True)
    with app.test_request_context():
        assert url_for("rollout_token") == "/rollout/token"
        assert url_for("api.rollout_token") == "/api/rollout/token"
    api = app.test_client()
    cross_site = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert api.get("/api/rollout/token", headers=cross_site).status_code == 401  # the decorator's
    bearer = {"Authorization": "Bearer t-bob"}
    assert api.get("/api/rollout/token", headers={**bearer, **cross_site}).status_code == 403
    assert sub(api.get("/api/rollout/token", headers=bearer)) == "bob"

    app = create_app(TokensAt)
    keyword = Blueprint("other", __name__)
    RolloutToken(keyword, resolve_user=lambda: "ada", path="/mine")
    app.register_blueprint(keyword, url_prefix="/other")
    with app.test_request_context():  # the keyword sets this route alone
        assert url_for("other.rollout_token") == "/other/mine"
        assert url_for("rollout_token") == "/rollout/token"


def test_a_second_extension_on_the_app_says_what_to_do() -> None:
    app = create_app()
    with pytest.raises(
        ConfigurationError, match=r"one RolloutToken per app.*RolloutToken\(api_blueprint"
    ):
        RolloutToken(app, resolve_user=lambda: None)


@pytest.mark.parametrize("decorators", [None, "login_required", [42]])
def test_wrong_decorators_are_refused(decorators: Any) -> None:
    with pytest.raises(ConfigurationError, match="decorators"):
        RolloutToken(resolve_user=lambda: None, decorators=decorators)


# --- 4. settings ----------------------------------------------------------------------------------


def test_a_misspelled_setting_is_logged_with_the_nearest_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Misspelled(Config):
        ROLLOUT_TOKEN_TLL = 300
        ROLLOUT_FEATURE_FLAGS = "the app's own"

    with caplog.at_level(logging.WARNING, logger="rollout_middleware"):
        create_app(Misspelled, api_token=True)  # two token routes: each key is reported once
    messages = [r.getMessage() for r in caplog.records if r.name == "rollout_middleware"]
    assert [m for m in messages if "ROLLOUT_TOKEN_TLL" in m] == [
        "ROLLOUT_TOKEN_TLL in app.config is not a setting of rollout_middleware; "
        "did you mean ROLLOUT_TOKEN_TTL? It is ignored."
    ]
    assert any("ROLLOUT_FEATURE_FLAGS" in m and "It is ignored" in m for m in messages)
    assert not any("ROLLOUT_CLIENT_ID" in m.split(";")[0] for m in messages)


@pytest.mark.parametrize("ttl", ["900", "300"])
def test_a_string_from_os_environ_in_a_config_class(
    ttl: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ROLLOUT_TOKEN_TTL = os.environ.get(...)`` in a config class: parsed as the environment's."""
    monkeypatch.setenv("MY_TOKEN_TTL", ttl)

    class FromEnviron(Config):
        ROLLOUT_TOKEN_TTL = os.environ.get("MY_TOKEN_TTL")

    client = create_app(FromEnviron).test_client()
    client.post("/login/dana")
    body = client.get("/rollout-token").get_json()
    assert body["expires_in"] == int(ttl)
    verify_token(body["token"], ttl=int(ttl))


def test_flask_logins_current_user_itself_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"resolve_user=lambda: current_user.get_id\(\)"):
        RolloutToken(resolve_user=current_user)


def test_a_quart_app_is_refused_naming_the_quart_module() -> None:
    quart = pytest.importorskip("quart")
    with pytest.raises(ConfigurationError, match=r"rollout_middleware\.contrib\.quart"):
        RolloutToken(quart.Quart(__name__), resolve_user=lambda: None)
    with pytest.raises(ConfigurationError, match=r"rollout_middleware\.contrib\.quart"):
        RolloutToken(quart.Blueprint("api", __name__), resolve_user=lambda: None)


def test_tests_need_no_rollout_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials anywhere: the app builds and serves its pages; the token route says 503."""
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)

    class Testing:
        TESTING = True
        SECRET_KEY = "test"

    client = create_app(Testing).test_client()
    assert client.post("/login/erin").text == "welcome"
    assert client.get("/rollout-token").status_code == 503
