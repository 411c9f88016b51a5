"""Flask: :class:`RolloutToken`, an extension that adds the token route to an app.

Settings come from the keywords, then ``app.config``, then the environment (``ROLLOUT_*``); see the
Flask docs page. ``resolve_user()`` takes no argument and runs in the request context, after the
app's ``before_request`` hooks.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

try:
    from flask import Flask, Response, current_app, request
except ImportError as exc:  # pragma: no cover - tested in a process that hides flask
    raise ImportError(
        'rollout_middleware.contrib.flask needs Flask: pip install "rollout-middleware[flask]"'
    ) from exc
from werkzeug.exceptions import HTTPException
from werkzeug.local import LocalProxy

from .. import _config
from .._sync import as_sync, is_async_callable
from ..decision import TokenDecision, read_stream
from ..errors import ConfigurationError
from ..wsgi import STATUS_LINES

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._config import Options

__all__ = ["RolloutToken"]

#: The key of the extension in ``app.extensions``.
EXTENSION_KEY = "rollout_token"
_TAKES = _config.ANSWER_OPTIONS | {"path", "resolver_timeout"}


class RolloutToken:
    """Serve Rollout tokens from a Flask app for the user ``resolve_user()`` names.

    Give ``app``, or call :meth:`init_app` in an application factory. Keyword options win over
    ``app.config`` and the environment; they are checked here, the rest by :meth:`init_app`.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        resolve_user: Callable[[], Any],
        endpoint: str = EXTENSION_KEY,
        **options: Unpack[Options],
    ) -> None:
        _check_resolver(resolve_user)
        if not isinstance(endpoint, str) or not endpoint:
            raise ConfigurationError(f"endpoint must be a non-empty str, got {endpoint!r}")
        _config.check_names(type(self).__name__, options, _TAKES)
        #: The keyword options, checked (the secret kept only as PyJWT's key).
        self._options = {name: _config.RULES[name](value) for name, value in options.items()}
        self.resolve_user = resolve_user
        self.endpoint = endpoint
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    def init_app(self, app: Flask) -> None:
        """Read the settings for ``app``, check them, and add the token route."""
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError(
                "this app already serves Rollout tokens (one RolloutToken per app)"
            )
        if self.endpoint in app.view_functions:
            raise ConfigurationError(
                f"the app already has a view named {self.endpoint!r}; give RolloutToken another "
                "endpoint"
            )
        settings = _config.read(
            type(self).__name__,
            self._options,
            [("app.config", app.config.get), ("the environment", os.environ.get)],
            _TAKES,
        )
        path = settings.path or _config.DEFAULT_PATH
        for rule in app.url_map.iter_rules():
            if rule.rule == path:
                raise ConfigurationError(
                    f"the app already has a route at {path!r} (endpoint {rule.endpoint!r}); "
                    "serve the token elsewhere with ROLLOUT_TOKEN_PATH / path="
                )
        decision = TokenDecision(settings)
        find_user = as_sync(
            self.resolve_user, is_async_callable(self.resolve_user), settings.resolver_timeout
        )
        app.url_map.add(app.url_rule_class(path, endpoint=self.endpoint, methods=None))
        app.view_functions[self.endpoint] = _make_view(decision, find_user)
        app.extensions[EXTENSION_KEY] = self


def _check_resolver(resolve_user: object) -> None:
    """``resolve_user`` must be called with no argument, in the request context."""
    if isinstance(resolve_user, LocalProxy) or not callable(resolve_user):
        raise ConfigurationError(
            "resolve_user must be a function that returns the user id, got "
            f"{type(resolve_user).__name__}; with Flask-Login: "
            "resolve_user=lambda: current_user.get_id()",
            option="resolve_user",
        )
    try:
        inspect.signature(resolve_user).bind()
    except ValueError:  # no signature to read (some builtins): trust it
        return
    except TypeError:
        raise ConfigurationError(
            "resolve_user must take no arguments: it runs in the request context, so read "
            "flask.session, flask.g or current_user there (resolve_user(environ) is the WSGI "
            "middleware's form)",
            option="resolve_user",
        ) from None


def _make_view(decision: TokenDecision, find_user: Callable[[], Any]) -> Callable[[], Response]:
    limit = decision.settings.max_body_size

    def rollout_token() -> Response:
        token_request = decision.request(
            request.method,
            request.headers.items(),
            path=request.path,
            client=request.remote_addr,
            content_length=request.content_length,
        )
        body = read_stream(request.stream.read, request.content_length, limit)
        answer = decision.handle(token_request, find_user, body, passthrough=(HTTPException,))
        # A list, as a WSGI app answers: Werkzeug then keeps the Content-Length of a HEAD answer.
        response = current_app.response_class(
            [answer.body], status=STATUS_LINES[answer.status], headers=answer.headers
        )
        if not any(name == "Content-Type" for name, _ in answer.headers):  # the 204 preflight
            del response.headers["Content-Type"]
        return response

    return rollout_token
