"""Django integration: Rollout tokens for Django's logged-in user.

Three ways to wire it. Each reads the ``ROLLOUT_*`` settings when it is called, after
``django.setup()``, never when this module is imported:

- ``asgi.py``: ``application = rollout_asgi(get_asgi_application())``;
- ``wsgi.py``: ``application = rollout_wsgi(get_wsgi_application())``;
- ``urls.py``: ``path("", include(token_urlpatterns()))``, or ``path("rollout-token", token_view)``.

Settings (each optional but the credentials):

=========================  =================================================================
``ROLLOUT_CLIENT_ID``      the Rollout client id; default: the ``ROLLOUT_CLIENT_ID`` env var
``ROLLOUT_CLIENT_SECRET``  the client secret; default: the ``ROLLOUT_CLIENT_SECRET`` env var
``ROLLOUT_TOKEN_PATH``     ``"/rollout-token"``: where the token is served
``ROLLOUT_TOKEN_TTL``      ``900``: token lifetime in seconds (1 to 3600)
``ROLLOUT_TOKEN_METHODS``  ``("GET",)``: methods that serve a token (``HEAD`` comes with ``GET``)
``ROLLOUT_ALLOWED_ORIGINS``  ``()``: other origins whose pages may fetch a token (CORS)
=========================  =================================================================

A wrong or missing setting raises :class:`~django.core.exceptions.ImproperlyConfigured`, naming
the setting, when the application is built (``asgi.py``/``wsgi.py``) or the URLconf is loaded.

The ASGI and WSGI wrappers answer the token path before Django's middleware runs, so they find the
user the way Django's ``SessionMiddleware`` and ``AuthenticationMiddleware`` would: the session
cookie (``SESSION_COOKIE_NAME``), a store of the configured ``SESSION_ENGINE``, then Django's own
:func:`django.contrib.auth.get_user`: the backend recorded in the session, the user it loads, and
the session auth hash, so a password change logs the user out here too. Inactive users get no
token. The view instead uses ``request.user``, whatever middleware set it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypedDict

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import get_str_from_wsgi
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, parse_cookie
from django.urls import URLPattern, path
from starlette.types import ASGIApp, Scope

from ..asgi import RolloutTokenMiddleware
from ..config import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_METHODS,
    DEFAULT_PATH,
    DEFAULT_RESOLVER_TIMEOUT,
    Settings,
)
from ..decision import Answer, RequestInfo, TokenDecision, request_headers
from ..errors import ConfigurationError
from ..tokens import CLIENT_ID_ENV, CLIENT_SECRET_ENV, DEFAULT_TTL, TokenIssuer
from ..wsgi import RolloutTokenWSGIMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = [
    "RolloutOptions",
    "RolloutTokenView",
    "rollout_asgi",
    "rollout_options",
    "rollout_wsgi",
    "token_urlpatterns",
    "token_view",
    "user_id_for_session",
    "user_id_from_environ",
    "user_id_from_scope",
    "user_id_of",
]

OnIssue = Callable[[str, int, RequestInfo], Any]


class RolloutOptions(TypedDict):
    """The validated ``ROLLOUT_*`` settings, as keyword arguments of the middleware."""

    issuer: TokenIssuer
    path: str
    methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]


@contextlib.contextmanager
def _setting(name: str) -> Iterator[None]:
    """Turn the core's :class:`ConfigurationError` into Django's, naming the setting."""
    try:
        yield
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


def _materialise(value: Any) -> Any:
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return tuple(value)
    return value


def rollout_options() -> RolloutOptions:
    """Read and validate the ``ROLLOUT_*`` settings (see the module docstring for defaults).

    Raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the wrong setting. The
    message never contains the client secret.
    """
    client_id = getattr(settings, "ROLLOUT_CLIENT_ID", None)
    if client_id is None:
        client_id = os.environ.get(CLIENT_ID_ENV, "")
    client_secret = getattr(settings, "ROLLOUT_CLIENT_SECRET", None)
    if client_secret is None:
        client_secret = os.environ.get(CLIENT_SECRET_ENV, "")
    token_path = getattr(settings, "ROLLOUT_TOKEN_PATH", DEFAULT_PATH)
    ttl = getattr(settings, "ROLLOUT_TOKEN_TTL", DEFAULT_TTL)
    methods = getattr(settings, "ROLLOUT_TOKEN_METHODS", DEFAULT_METHODS)
    origins = getattr(settings, "ROLLOUT_ALLOWED_ORIGINS", ())
    # Checked once, returned after: so a one-shot iterable is read only once.
    methods = _materialise(methods)
    origins = _materialise(origins)

    with _setting("ROLLOUT_CLIENT_ID / ROLLOUT_CLIENT_SECRET"):
        TokenIssuer(client_id, client_secret)
    with _setting("ROLLOUT_TOKEN_TTL"):
        issuer = TokenIssuer(client_id, client_secret, ttl=ttl)
    with _setting("ROLLOUT_TOKEN_PATH"):
        if not isinstance(token_path, str):
            raise ConfigurationError(f"path must be a str, got {token_path!r}")
        Settings.build(issuer=issuer, path=token_path)
    with _setting("ROLLOUT_TOKEN_METHODS"):
        Settings.build(issuer=issuer, methods=methods)
    with _setting("ROLLOUT_ALLOWED_ORIGINS"):
        Settings.build(issuer=issuer, allowed_origins=origins)
    return {
        "issuer": issuer,
        "path": token_path,
        "methods": methods,
        "allowed_origins": origins,
    }


# --- Finding the user ---------------------------------------------------------------------------


def user_id_of(user: object) -> str | int | None:
    """The Rollout user id of a Django user: its ``pk``, or ``None``.

    ``None`` for ``None``, anonymous and inactive users. An ``int`` primary key stays an ``int``;
    any other (``UUIDField``, ``CharField``, ...) becomes its ``str``.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "is_active", True):
        return None
    pk = getattr(user, "pk", None)
    if pk is None:
        return None
    if isinstance(pk, int) and not isinstance(pk, bool):
        return pk
    return str(pk)


def _keep_session_key() -> None:
    """Stands in for ``cycle_key`` on the token path: see :func:`user_id_for_session`."""


def user_id_for_session(session_key: str) -> str | int | None:
    """The id of the active user logged in to the session ``session_key``, or ``None``. Sync.

    The session is opened with ``SESSION_ENGINE``'s ``SessionStore``, as ``SessionMiddleware``
    does, and the user found by :func:`django.contrib.auth.get_user`, Django's own code: the
    backend recorded in the session must be in ``AUTHENTICATION_BACKENDS``, and the session auth
    hash must match the user's (a password change logs out; Django then flushes the session, as on
    any request). One difference: when the hash matches only a ``SECRET_KEY_FALLBACKS`` key, Django
    would rotate the session key, but a token answer cannot set the new cookie, so the key is left
    for the user's next ordinary request to rotate.

    Stale database connections are closed before and after, as Django's request cycle does. Call
    it from a thread where the ORM may run (never on the event loop).
    """
    close_old_connections()
    try:
        engine = import_module(settings.SESSION_ENGINE)
        request = HttpRequest()
        session = engine.SessionStore(session_key)
        session.cycle_key = _keep_session_key
        request.session = session
        return user_id_of(get_user(request))
    finally:
        close_old_connections()


def _session_key(cookie_header: str) -> str | None:
    if not cookie_header:
        return None
    return parse_cookie(cookie_header).get(settings.SESSION_COOKIE_NAME) or None


def _scope_cookies(scope: Scope) -> str:
    """The ``Cookie`` header of an ASGI scope; several (HTTP/2) are joined with ``"; "``."""
    return "; ".join(
        value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"cookie"
    )


async def user_id_from_scope(scope: Scope) -> str | int | None:
    """ASGI resolver: the id of the Django user logged in to this request's session, or ``None``.

    Without a session cookie it answers at once. Otherwise :func:`user_id_for_session` runs through
    :func:`asgiref.sync.sync_to_async` with ``thread_sensitive=True`` inside a
    :class:`~asgiref.sync.ThreadSensitiveContext`, exactly as Django's ``ASGIHandler`` runs a
    request's sync code: ORM calls on a thread of this request's own, never on the event loop.
    """
    session_key = _session_key(_scope_cookies(scope))
    if session_key is None:
        return None
    async with ThreadSensitiveContext():
        user_id: str | int | None = await sync_to_async(user_id_for_session, thread_sensitive=True)(
            session_key
        )
    return user_id


def user_id_from_environ(environ: WSGIEnvironment) -> str | int | None:
    """WSGI resolver: :func:`user_id_from_scope` for a WSGI environ, on the request thread."""
    session_key = _session_key(get_str_from_wsgi(environ, "HTTP_COOKIE", ""))
    if session_key is None:
        return None
    return user_id_for_session(session_key)


# --- asgi.py and wsgi.py ------------------------------------------------------------------------


def rollout_asgi(
    app: ASGIApp,
    *,
    resolve_user: Callable[[Scope], Any] = user_id_from_scope,
    resolver_timeout: float | None = DEFAULT_RESOLVER_TIMEOUT,
    on_issue: OnIssue | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> RolloutTokenMiddleware:
    """Wrap Django's ASGI application: ``application = rollout_asgi(get_asgi_application())``.

    The ``ROLLOUT_*`` settings are read now; every other path reaches ``app`` untouched. A sync
    ``resolve_user`` or ``on_issue`` runs with ``thread_sensitive=True``, where Django's ORM may run.
    """
    with _setting("rollout_asgi"):
        return RolloutTokenMiddleware(
            app,
            resolve_user=resolve_user,
            resolver_timeout=resolver_timeout,
            on_issue=on_issue,
            max_body_size=max_body_size,
            thread_sensitive=True,
            **rollout_options(),
        )


def rollout_wsgi(
    app: WSGIApplication,
    *,
    resolve_user: Callable[[WSGIEnvironment], Any] = user_id_from_environ,
    resolver_timeout: float | None = DEFAULT_RESOLVER_TIMEOUT,
    on_issue: OnIssue | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> RolloutTokenWSGIMiddleware:
    """Wrap Django's WSGI application: ``application = rollout_wsgi(get_wsgi_application())``."""
    with _setting("rollout_wsgi"):
        return RolloutTokenWSGIMiddleware(
            app,
            resolve_user=resolve_user,
            resolver_timeout=resolver_timeout,
            on_issue=on_issue,
            max_body_size=max_body_size,
            **rollout_options(),
        )


# --- The view ---------------------------------------------------------------------------------


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _response(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response.headers[name] = value
    return response


class RolloutTokenView:
    """A Django view serving a token for ``request.user``, with the middleware's very answers.

    It works with whatever sets ``request.user`` (Django's ``AuthenticationMiddleware``,
    django-allauth, ``RemoteUserMiddleware``, your own). The ``ROLLOUT_*`` settings but
    ``ROLLOUT_TOKEN_PATH`` (the URLconf places the view) are read when it is built. It is not
    ``csrf_exempt``: with ``ROLLOUT_TOKEN_METHODS = ("POST",)`` the request needs Django's CSRF
    token, as every POST to a Django view does.
    """

    __slots__ = ("decision",)

    def __init__(
        self, *, on_issue: OnIssue | None = None, max_body_size: int = DEFAULT_MAX_BODY_SIZE
    ) -> None:
        options = rollout_options()
        with _setting("RolloutTokenView"):
            self.decision = TokenDecision.build(
                issuer=options["issuer"],
                methods=options["methods"],
                allowed_origins=options["allowed_origins"],
                on_issue=on_issue,
                max_body_size=max_body_size,
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        decision = self.decision
        method = request.method or "GET"
        headers = request_headers(request.headers.get)
        answer = decision.precheck(method, headers, _content_length(request))
        if answer is None:
            try:
                user_id = user_id_of(request.user)
            except Exception:
                answer = decision.resolver_failed(method, headers)
            else:
                answer = decision.respond(
                    method,
                    user_id,
                    headers,
                    {
                        "method": method,
                        "path": request.path,
                        "client": request.META.get("REMOTE_ADDR") or None,
                    },
                )
        return _response(answer)


@functools.cache
def _default_view() -> RolloutTokenView:
    return RolloutTokenView()


def token_view(request: HttpRequest) -> HttpResponse:
    """The default :class:`RolloutTokenView`, built at its first request from the settings."""
    return _default_view()(request)


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    """Rebuild the default view when a ``ROLLOUT_*`` setting changes (``override_settings``)."""
    if setting.startswith("ROLLOUT_"):
        _default_view.cache_clear()


setting_changed.connect(_settings_changed, dispatch_uid="rollout_middleware.contrib.django")


def token_urlpatterns(
    view: Callable[[HttpRequest], HttpResponse] | None = None,
) -> list[URLPattern]:
    """The token route at ``ROLLOUT_TOKEN_PATH``, named ``"rollout-token"``, for ``include()``.

    ``urlpatterns = [..., path("", include(token_urlpatterns()))]``. Under a prefix,
    ``path("api/", include(...))``, the route is relative to that prefix. The settings are
    validated now, so a wrong one fails when the URLconf loads (``manage.py check`` loads it).
    ``view`` defaults to :func:`token_view`.
    """
    route = rollout_options()["path"].lstrip("/")
    return [path(route, view if view is not None else token_view, name="rollout-token")]
