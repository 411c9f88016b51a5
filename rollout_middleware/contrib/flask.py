"""Flask integration: :class:`RolloutToken`, a Flask extension that serves Rollout tokens.

::

    from flask import Flask, session
    from rollout_middleware.contrib.flask import RolloutToken

    app = Flask(__name__)
    rollout = RolloutToken(app, resolve_user=lambda: session.get("user_id"))

``resolve_user`` takes no argument: it runs inside the app's request context, so ``flask.session``,
``flask.g``, ``flask.request`` and flask-login's ``current_user`` all work in it. It returns the user
id, or ``None`` for nobody (401). With flask-login, use ``lambda: current_user.get_id()``: the
anonymous user's ``get_id()`` is ``None``. It may also be an ``async def`` (run through asgiref, as
Flask runs async views: it costs an event loop per request).

Settings come from, in this order: the keyword arguments, ``app.config``, the process environment,
the defaults. ``app.config`` values are Python values, typed as Django's settings are
(``ROLLOUT_TOKEN_TTL = 900``; ``"900"`` is refused, as by Django's checks); only environment
variables, which are strings, are parsed (``ROLLOUT_RESOLVER_TIMEOUT`` also takes ``"none"`` in
``app.config``). A route of the app already at the token path is an error, and so is a
``resolve_user`` that takes arguments. ``init_app`` validates them and raises
:class:`~rollout_middleware.errors.ConfigurationError` when the app is set up, not at its first
request.

==============================  ======================  ======================================
``app.config`` / env key        keyword                 default
==============================  ======================  ======================================
``ROLLOUT_CLIENT_ID``           ``client_id``           required (unless ``issuer``)
``ROLLOUT_CLIENT_SECRET``       ``client_secret``       required (unless ``issuer``)
``ROLLOUT_TOKEN_PATH``          ``path``                ``"/rollout-token"``
``ROLLOUT_TOKEN_TTL``           ``ttl``                 ``900`` seconds
``ROLLOUT_TOKEN_METHODS``       ``methods``             ``("GET",)``; env: ``"GET,POST"``
``ROLLOUT_ALLOWED_ORIGINS``     ``allowed_origins``     ``()``; env: comma-separated
``ROLLOUT_RESOLVER_TIMEOUT``    ``resolver_timeout``    ``10.0`` s, async only; ``"none"``
``ROLLOUT_MAX_BODY_SIZE``       ``max_body_size``       ``65536`` bytes
==============================  ======================  ======================================

The design: a URL rule, not a wrapper around ``app.wsgi_app``
-------------------------------------------------------------
``init_app`` adds a URL rule (endpoint ``"rollout_token"``) whose view runs the package's WSGI
endpoint, :class:`~rollout_middleware.wsgi.RolloutTokenWSGIEndpoint`, on the request's environ, and
returns its answer as a Flask response. The decision itself is
:class:`~rollout_middleware.decision.TokenDecision`, the one every shell uses, so status, body and
headers are those of the WSGI and ASGI middleware. Nothing of it is written again here.

A view rather than :class:`~rollout_middleware.wsgi.RolloutTokenWSGIMiddleware` around
``app.wsgi_app`` (with a resolver that pushes a request context), because Flask apps find their user
through the whole request Flask dispatches, and only a view gets all of it:

- ``before_request`` hooks run first, so the common ``g.user`` loader (Flask's own tutorial) works;
  a hand-pushed context would run none of them.
- The session is opened *and saved* by the app's session interface: flask-login restoring a user
  from its remember-me cookie, or the refresh of a permanent session
  (``SESSION_REFRESH_EACH_REQUEST``), update the cookie as on any other route. A hand-pushed context
  throws those changes away.
- The ``request_started`` and ``request_finished`` signals are sent, so error trackers and
  monitoring see the request as any other.
- It is an ordinary route: ``flask routes`` lists it, ``url_for("rollout_token")`` builds its URL,
  and ``SCRIPT_NAME`` / ``APPLICATION_ROOT`` mounting works as for every route.

The cost is that of any other view of the app: one Flask request (request context, session,
hooks, response) plus the token, the same order as a small JSON view. A wrapper with a hand-pushed
context is faster only by skipping the dispatch, the hooks and the session save, which are exactly
what it gets wrong; ``docs/flask.md`` gives measured figures.

What follows from being a route, and is documented: the app's own ``after_request`` hooks may add
headers to the token answers, and Flask adds ``Vary: Cookie`` because the resolver read the session.
A ``before_request`` hook that returns a response (a site-wide login redirect, a CSRF check on
``POST``) answers instead of the token view, as it would for any view. The rule accepts every
method, so ``405`` with ``Allow``, ``HEAD`` and the CORS preflight are answered by the decision,
exactly as by the middleware, not by Flask's router. An exception in the resolver is logged on the
``rollout_middleware`` logger and answered ``500`` in problem JSON, as by the middleware; the app's
own 500 handler does not see it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

try:
    import flask  # noqa: F401 - only to say which extra is missing
except ImportError as exc:  # pragma: no cover - tested in a process that hides flask
    raise ImportError(
        'rollout_middleware.contrib.flask needs Flask: pip install "rollout-middleware[flask]"'
    ) from exc

from flask import Flask, Response, current_app, request

from ..config import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_METHODS,
    DEFAULT_PATH,
    DEFAULT_RESOLVER_TIMEOUT,
    RequestInfo,
    check_path,
    is_async_callable,
)
from ..errors import ConfigurationError
from ..tokens import DEFAULT_TTL, TokenIssuer
from ..wsgi import RolloutTokenWSGIEndpoint

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["EXTENSION_KEY", "RolloutToken"]

#: The key of the extension in ``app.extensions``.
EXTENSION_KEY = "rollout_token"

_UNSET: Any = object()


Parser = Callable[[str, object], object]


def _keep(key: str, value: object) -> object:
    return value


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _whole(key: str, value: object) -> object:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ConfigurationError(f"{key} must be a whole number, got {value!r}") from None
    return value


def _timeout(key: str, value: object) -> object:
    if isinstance(value, str):
        if value.strip().lower() in ("", "none"):
            return None
        try:
            return float(value)
        except ValueError:
            raise ConfigurationError(
                f"{key} must be a number of seconds or 'none', got {value!r}"
            ) from None
    return value


def _typed_whole(key: str, value: object) -> object:
    """An ``app.config`` value that must be an int: a string is refused, naming the key."""
    if isinstance(value, str):
        raise ConfigurationError(
            f"{key} must be a whole number (an int, as in Django's settings), got {value!r}; "
            "only environment variables are parsed from strings"
        )
    return value


def _names(key: str, value: object) -> object:
    return _split(value) if isinstance(value, str) else value


class RolloutToken:
    """Serve Rollout tokens from a Flask app, for the user its ``resolve_user`` names.

    ``resolve_user`` is a zero-argument callable (sync or async) run in the app's request context;
    it returns the user id, or ``None`` when nobody is logged in. Every other keyword overrides the
    ``app.config`` key of the table in :mod:`this module's docs <rollout_middleware.contrib.flask>`;
    ``None`` (the default) means "read it from the config or the environment". ``issuer`` replaces
    the client id, secret and ttl. ``endpoint`` names the URL rule, for ``url_for``.

    Give ``app`` to set it up at once, or call :meth:`init_app` later (application factories). One
    extension may serve several apps; each app reads its own config. The extension is stored in
    ``app.extensions["rollout_token"]``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        resolve_user: Callable[[], Any],
        path: str | None = None,
        issuer: TokenIssuer | None = None,
        client_id: str | None = None,
        client_secret: str | bytes | None = None,
        ttl: int | None = None,
        methods: Iterable[str] | None = None,
        allowed_origins: Iterable[str] | None = None,
        resolver_timeout: float | None = _UNSET,
        on_issue: Callable[[str, int, RequestInfo], Any] | None = None,
        max_body_size: int | None = None,
        endpoint: str = EXTENSION_KEY,
    ) -> None:
        if not callable(resolve_user):
            raise ConfigurationError(
                "resolve_user must be a zero-argument callable that returns a user id or None"
            )
        _check_no_arguments(resolve_user)
        if not isinstance(endpoint, str) or not endpoint:
            raise ConfigurationError(f"endpoint must be a non-empty str, got {endpoint!r}")
        self.resolve_user = resolve_user
        given = {
            "path": path,
            "client_id": client_id,
            "client_secret": client_secret,
            "ttl": ttl,
            "methods": methods,
            "allowed_origins": allowed_origins,
            "max_body_size": max_body_size,
        }
        #: The options given as keywords: they win over ``app.config`` and the environment.
        self._given: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if resolver_timeout is not _UNSET:  # None is a value here: no limit
            self._given["resolver_timeout"] = resolver_timeout
        self.issuer = issuer
        self.on_issue = on_issue
        self.endpoint = endpoint
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    def init_app(self, app: Flask) -> None:
        """Validate the settings for ``app`` and add the token route to it.

        Raises :class:`~rollout_middleware.errors.ConfigurationError` for a missing or wrong
        setting, or if ``app`` already has a view named like ``endpoint``.
        """
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError("RolloutToken is already set up on this app")
        if self.endpoint in app.view_functions:
            raise ConfigurationError(
                f"the app already has a view named {self.endpoint!r}; give RolloutToken another "
                "endpoint"
            )
        path, options = self._read_settings(app.config, os.environ)
        for rule in app.url_map.iter_rules():
            if rule.rule == path:
                raise ConfigurationError(
                    f"the app already has a route at {path!r} (endpoint {rule.endpoint!r}); "
                    "remove it, or serve the token elsewhere with ROLLOUT_TOKEN_PATH / path="
                )
        token_app = RolloutTokenWSGIEndpoint(
            resolve_user=self._environ_resolver(),
            issuer=self.issuer,
            on_issue=self.on_issue,
            **options,
        )
        rule = app.url_rule_class(path, endpoint=self.endpoint, methods=None)
        app.url_map.add(rule)
        app.view_functions[self.endpoint] = _make_view(token_app)
        app.extensions[EXTENSION_KEY] = self

    def _environ_resolver(self) -> Callable[[WSGIEnvironment], Any]:
        """``resolve_user`` as the WSGI shell calls it: with the environ, which it does not need."""
        resolve = self.resolve_user
        if is_async_callable(resolve):

            async def resolve_async(environ: WSGIEnvironment) -> Any:
                return await resolve()

            return resolve_async

        def resolve_sync(environ: WSGIEnvironment) -> Any:
            return resolve()

        return resolve_sync

    def _read_settings(
        self, config: Mapping[str, Any], environ: Mapping[str, str]
    ) -> tuple[str, dict[str, Any]]:
        """The token path and the keyword arguments of the WSGI endpoint, for one app."""

        given = self._given

        def read(
            name: str, key: str, default: object, parse: Parser = _keep, in_config: Parser = _keep
        ) -> Any:
            """The keyword, else ``app.config`` (Python values, as Django's settings: ``900``,
            never ``"900"``), else the environment (strings, parsed with ``parse``)."""
            if name in given:
                return given[name]
            value = config.get(key)
            if value is not None:
                return in_config(key, value)
            value = environ.get(key)
            if value is not None:
                return parse(key, value)
            return default

        path = check_path(read("path", "ROLLOUT_TOKEN_PATH", DEFAULT_PATH))
        options: dict[str, Any] = {
            "methods": read("methods", "ROLLOUT_TOKEN_METHODS", DEFAULT_METHODS, _names),
            "allowed_origins": read("allowed_origins", "ROLLOUT_ALLOWED_ORIGINS", (), _names),
            "resolver_timeout": read(
                "resolver_timeout",
                "ROLLOUT_RESOLVER_TIMEOUT",
                DEFAULT_RESOLVER_TIMEOUT,
                _timeout,
                _timeout,  # "none" in app.config: no limit, over the environment's
            ),
            "max_body_size": read(
                "max_body_size",
                "ROLLOUT_MAX_BODY_SIZE",
                DEFAULT_MAX_BODY_SIZE,
                _whole,
                _typed_whole,
            ),
        }
        if self.issuer is None:
            options["client_id"] = read("client_id", "ROLLOUT_CLIENT_ID", "")
            options["client_secret"] = read("client_secret", "ROLLOUT_CLIENT_SECRET", "")
            options["ttl"] = read("ttl", "ROLLOUT_TOKEN_TTL", DEFAULT_TTL, _whole, _typed_whole)
        else:
            for name in ("client_id", "client_secret", "ttl"):
                if name in given:
                    raise ConfigurationError(
                        "give either issuer or client_id/client_secret/ttl, not both"
                    )
        return path, options


def _check_no_arguments(resolve_user: Callable[..., Any]) -> None:
    """Refuse a resolver that needs arguments (the WSGI middleware's ``resolve_user(environ)``):
    the extension calls it with none, in the request context."""
    try:
        signature = inspect.signature(resolve_user)
    except (TypeError, ValueError):  # no signature to read (some builtins): trust it
        return
    try:
        signature.bind()
    except TypeError:
        raise ConfigurationError(
            f"resolve_user must take no arguments, but {signature} needs some: the extension "
            "calls it with none, inside the request context, so read flask.request, "
            "flask.session or current_user there (resolve_user(environ) is the WSGI "
            "middleware's form)"
        ) from None


def _make_view(token_app: RolloutTokenWSGIEndpoint) -> Callable[[], Response]:
    def rollout_token() -> Response:
        # Werkzeug's stream is bounded by Content-Length: safe to drain even if a hook read the body.
        environ = {**request.environ, "wsgi.input": request.stream}
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            # werkzeug.test.run_wsgi_app does this too, with another environ copy: slower here.
            started.extend((status, headers))  # the endpoint never calls write()

        body = token_app(environ, start_response)  # a list: nothing to close
        status, headers = started
        response = current_app.response_class(body, status=status, headers=headers)
        if not any(name == "Content-Type" for name, _ in headers):  # the 204 preflight
            del response.headers["Content-Type"]  # added by Flask by default
        return response

    return rollout_token
