"""Quart: :class:`RolloutToken`, an extension that adds the token route to an app; the Flask
extension's twin.

Settings come from the keywords, then ``app.config``, then the environment (``ROLLOUT_*``); see the
Quart docs page. ``resolve_user()`` takes no argument and runs in the request context, after the
app's ``before_request`` hooks; a sync one runs as Quart runs a sync view (``app.ensure_async``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

try:
    from quart import Quart, Response, current_app, request
except ImportError as exc:  # pragma: no cover - the extra is installed wherever this is tested
    raise ImportError(
        'rollout_middleware.contrib.quart needs Quart: pip install "rollout-middleware[quart]"'
    ) from exc
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from .. import _config
from ..decision import TokenDecision, add_cors
from ..errors import ConfigurationError
from ._callables import (
    EXTENSION_KEY,
    check_extension,
    extension_settings,
    werkzeug_token_request,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._config import Options

__all__ = ["RolloutToken"]


class RolloutToken:
    """Serve Rollout tokens from a Quart app for the user ``resolve_user()`` names.

    Give ``app``, or call :meth:`init_app` in an application factory. Keyword options win over
    ``app.config`` and the environment; they are checked here, the rest by :meth:`init_app`.
    """

    def __init__(
        self,
        app: Quart | None = None,
        *,
        resolve_user: Callable[[], Any],
        endpoint: str = EXTENSION_KEY,
        **options: Unpack[Options],
    ) -> None:
        self._options = check_extension(
            type(self).__name__,
            resolve_user,
            endpoint,
            options,
            proxy="with quart-auth: resolve_user=lambda: current_user.auth_id",
            reads="quart.session, quart.g or current_user",
        )
        self.resolve_user = resolve_user
        self.endpoint = endpoint
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    def init_app(self, app: Quart) -> None:
        """Read the settings for ``app``, check them, and add the token route."""
        if not isinstance(app, Quart):
            raise ConfigurationError(
                f"rollout_middleware.contrib.quart serves Quart apps, got {type(app).__name__}; "
                "a Flask app takes rollout_middleware.contrib.flask.RolloutToken"
            )
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError(
                "this app already serves Rollout tokens (one RolloutToken per app)"
            )
        if self.endpoint in app.view_functions:
            raise ConfigurationError(
                f"the app already has a view named {self.endpoint!r}; give RolloutToken another "
                "endpoint"
            )
        settings = extension_settings(type(self).__name__, self._options, app.config)
        path = settings.path or _config.DEFAULT_PATH
        for rule in app.url_map.iter_rules():
            if rule.rule == path:
                raise ConfigurationError(
                    f"the app already has a route at {path!r} (endpoint {rule.endpoint!r}); "
                    "serve the token elsewhere with ROLLOUT_TOKEN_PATH / path="
                )
        decision = TokenDecision(settings)
        # Every method: the decision answers 405, HEAD and the preflight, not Quart's router.
        app.url_map.add(app.url_rule_class(path, endpoint=self.endpoint, methods=None))
        app.view_functions[self.endpoint] = _make_view(
            decision, app.ensure_async(self.resolve_user)
        )
        endpoint = self.endpoint

        async def rollout_token_cors(response: Response) -> Response:
            """The app's own answers on the token route (``abort(401)``, a login hook's refusal)
            get the CORS headers of an allowed origin, as the route's answers do."""
            if request.endpoint == endpoint:
                add_cors(response.headers, werkzeug_token_request(decision, request).cors)
            return response

        if settings.allowed_origins:  # else no hook: the app's other requests pay nothing
            app.after_request_funcs.setdefault(None, []).append(rollout_token_cors)

        app.extensions[EXTENSION_KEY] = self


def _make_view(
    decision: TokenDecision, find_user: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[Response]]:
    async def rollout_token() -> Response:
        answer = await decision.handle_async(
            werkzeug_token_request(decision, request),
            find_user,
            request.body,
            passthrough=(HTTPException,),
        )
        assert answer is not None  # Quart's body never reports a disconnect
        response = current_app.response_class(
            answer.body, status=answer.status, headers=Headers(answer.headers)
        )
        # Quart sets these two from the body; the answer's are the ones (HEAD has GET's length,
        # the 204 preflight neither).
        given = dict(answer.headers)
        for name in ("Content-Length", "Content-Type"):
            if name in given:
                response.headers[name] = given[name]
            else:
                del response.headers[name]
        return response

    return rollout_token
