"""Flask: :class:`RolloutToken`, an extension that adds the token route to an app or a blueprint."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

try:
    from flask import Blueprint, Flask, Response, current_app, request
except ImportError as exc:  # pragma: no cover - tested in a process that hides flask
    raise ImportError(
        'rollout_middleware.contrib.flask needs Flask: pip install "rollout-middleware[flask]"'
    ) from exc
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from .. import _config
from .._sync import as_sync, is_async_callable
from ..decision import TokenDecision, add_cors, read_stream
from ..errors import ConfigurationError
from ..wsgi import STATUS_LINES
from ._callables import (
    EXTENSION_KEY,
    EXTENSION_TAKES,
    check_extension,
    extension_settings,
    werkzeug_token_request,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._config import Options

__all__ = ["RolloutToken"]

logger = logging.getLogger("rollout_middleware")

#: The ``app.config`` names this extension reads.
SETTINGS = frozenset(_config.SETTING_NAMES[name] for name in EXTENSION_TAKES)
#: Where the app's rule class keeps the token routes it guards, by (rule, subdomain, host).
_GUARDED = "_rollout_token_routes"

ViewDecorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class RolloutToken:
    """Serve Rollout tokens from a Flask app, or from a blueprint, for the user ``resolve_user()``
    names."""

    def __init__(
        self,
        app: Flask | Blueprint | None = None,
        *,
        resolve_user: Callable[[], Any],
        endpoint: str = EXTENSION_KEY,
        decorators: Iterable[ViewDecorator] = (),
        **options: Unpack[Options],
    ) -> None:
        self._options = check_extension(
            type(self).__name__,
            resolve_user,
            endpoint,
            options,
            proxy="with Flask-Login: resolve_user=lambda: current_user.get_id()",
            reads="flask.session, flask.g or current_user",
        )
        if callable(decorators) or not isinstance(decorators, Iterable):
            raise ConfigurationError(
                "decorators must be a list of view decorators, such as [auth.login_required], "
                f"got {decorators!r}",
                option="decorators",
            )
        self.decorators = tuple(decorators)
        for decorator in self.decorators:
            if not callable(decorator):
                raise ConfigurationError(
                    f"each of decorators must be a view decorator, got {decorator!r}",
                    option="decorators",
                )
        self.resolve_user = resolve_user
        self.endpoint = endpoint
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    def init_app(self, app: Flask | Blueprint) -> None:
        """Add the token route to ``app``, its settings read and checked now; to a blueprint,
        when the blueprint is registered on an app (once per registration)."""
        _refuse_quart(app)
        if isinstance(app, Blueprint):
            app.record(self._register_on_blueprint)
            return
        if not isinstance(app, Flask):
            raise ConfigurationError(
                f"RolloutToken serves a Flask app or a Blueprint, got {type(app).__name__}"
            )
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError(
                "this app already has its Rollout token route, added by "
                f"{app.extensions[EXTENSION_KEY]!r}: one RolloutToken per app serves the app's "
                "route. Give another one a blueprint, RolloutToken(api_blueprint, ...), for a "
                "token route under that blueprint's prefix and auth"
            )
        self._add_route(app, self.endpoint)
        app.extensions[EXTENSION_KEY] = self

    def _register_on_blueprint(self, state: BlueprintSetupState) -> None:
        _refuse_quart(state.app)
        endpoint = f"{state.name_prefix}.{state.name}.{self.endpoint}".lstrip(".")
        self._add_route(cast("Flask", state.app), endpoint, state)

    def _add_route(
        self, app: Flask, endpoint: str, state: BlueprintSetupState | None = None
    ) -> None:
        if endpoint in app.view_functions:
            raise ConfigurationError(
                f"the app already has a view named {endpoint!r}; give RolloutToken another endpoint"
            )
        if not hasattr(app.url_rule_class, _GUARDED):  # the app's first token route
            warn_unknown_settings(app.config)
        settings = extension_settings(type(self).__name__, self._options, app.config)
        path = settings.path or _config.DEFAULT_PATH
        subdomain = defaults = None
        if state is not None:
            if state.url_prefix is not None:
                path = "/".join((state.url_prefix.rstrip("/"), path.lstrip("/")))
            subdomain, defaults = state.subdomain, dict(state.url_defaults) or None
        rule = app.url_rule_class(
            path, endpoint=endpoint, methods=None, subdomain=subdomain, defaults=defaults
        )
        key = _rule_key(rule, app.url_map)
        for existing in app.url_map.iter_rules():
            if _rule_key(existing, app.url_map) == key:
                raise ConfigurationError(
                    f"the app already has a route at {path!r} (endpoint {existing.endpoint!r}); "
                    "serve the token elsewhere with ROLLOUT_TOKEN_PATH / path="
                )
        find_user = as_sync(
            self.resolve_user, is_async_callable(self.resolve_user), settings.resolver_timeout
        )
        decision = TokenDecision(settings)
        view = _make_view(decision, find_user)
        for decorator in self.decorators:
            view = decorator(view)
        _guard_routes(app)
        app.url_map.add(rule)
        getattr(app.url_rule_class, _GUARDED)[key] = endpoint
        app.view_functions[endpoint] = view
        if settings.allowed_origins:  # else no hook: the app's other requests pay nothing
            # Not app.after_request(): like the route itself, this may come after a first request.
            app.after_request_funcs.setdefault(None, []).append(_with_cors(decision, endpoint))


def _rule_key(rule: Rule, map: Map) -> tuple[str, str, str | None]:
    """Where a rule answers: its path, subdomain and host (bound or not)."""
    subdomain = map.default_subdomain if rule.subdomain is None else rule.subdomain
    return (rule.rule, subdomain, rule.host)


def _guard_routes(app: Flask) -> None:
    """Make every rule the app adds from now on refuse a token route's path."""
    if hasattr(app.url_rule_class, _GUARDED):
        return
    base: type[Rule] = app.url_rule_class

    def bind(rule: Rule, map: Map, rebind: bool = False) -> None:
        owner = getattr(type(rule), _GUARDED).get(_rule_key(rule, map))
        if owner is not None and owner != rule.endpoint:  # raised before the rule is added
            raise ConfigurationError(
                f"the route {rule.rule!r} (endpoint {rule.endpoint!r}) is at the path of the "
                f"Rollout token route (endpoint {owner!r}), which would answer every request to "
                "it: serve the token elsewhere with ROLLOUT_TOKEN_PATH / path=, or move the route"
            )
        base.bind(rule, map, rebind)

    namespace = {"bind": bind, _GUARDED: {}, "__module__": __name__}
    app.url_rule_class = cast("type[Rule]", type(base.__name__, (base,), namespace))


def warn_unknown_settings(config: Mapping[str, Any]) -> list[str]:
    """Log (a warning) each ``ROLLOUT_*`` key of ``config`` this extension does not read, with the
    nearest known name; returns the messages."""
    known = sorted(SETTINGS)
    messages = []
    for name in sorted(k for k in config if isinstance(k, str) and k.startswith("ROLLOUT_")):
        if name not in SETTINGS:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else "known: " + ", ".join(known)
            messages.append(f"{name} in app.config is not a setting of rollout_middleware; {hint}")
            logger.warning("%s It is ignored.", messages[-1])
    return messages


def _refuse_quart(app: object) -> None:
    if any(cls.__module__.partition(".")[0] == "quart" for cls in type(app).__mro__):
        raise ConfigurationError(
            f"{type(app).__name__} is a Quart app: use rollout_middleware.contrib.quart, not "
            "rollout_middleware.contrib.flask (Flask's request context is not Quart's)"
        )


def _with_cors(decision: TokenDecision, endpoint: str) -> Callable[[Response], Response]:
    """The app's own answers on the token route (an ``abort(401)``, a login hook's refusal) get
    the CORS headers of an allowed origin, as the route's answers do: the page can read them."""

    def rollout_token_cors(response: Response) -> Response:
        if request.endpoint == endpoint:
            add_cors(response.headers, werkzeug_token_request(decision, request).cors)
        return response

    return rollout_token_cors


def _make_view(decision: TokenDecision, find_user: Callable[[], Any]) -> Callable[..., Response]:
    limit = decision.settings.max_body_size

    def rollout_token(**_url_values: Any) -> Response:
        body = read_stream(request.stream.read, request.content_length, limit)
        answer = decision.handle(
            werkzeug_token_request(decision, request), find_user, body, passthrough=(HTTPException,)
        )
        # A list, as a WSGI app answers: Werkzeug then keeps the Content-Length of a HEAD answer.
        response = current_app.response_class(
            [answer.body], status=STATUS_LINES[answer.status], headers=answer.headers
        )
        if not any(name == "Content-Type" for name, _ in answer.headers):  # the 204 preflight
            del response.headers["Content-Type"]
        return response

    return rollout_token
