"""Django integration: Rollout tokens for Django's logged-in user.

Four ways to wire it. Each reads the ``ROLLOUT_*`` settings when it is built, after
``django.setup()``, never when this module is imported:

- ``MIDDLEWARE``: ``"rollout_middleware.contrib.django.RolloutTokenMiddleware"``, after
  ``AuthenticationMiddleware`` (:class:`RolloutTokenMiddleware`): the token for ``request.user``;
- ``asgi.py``: ``application = rollout_asgi(get_asgi_application())``;
- ``wsgi.py``: ``application = rollout_wsgi(get_wsgi_application())``;
- ``urls.py``: ``path("", include(token_urlpatterns()))``, or ``path("rollout-token", token_view)``.

Add ``"rollout_middleware.contrib.django"`` to ``INSTALLED_APPS`` for the system checks of every
``ROLLOUT_*`` setting (:mod:`.checks`); the settings and their defaults are in :mod:`.conf`.

A wrong or missing setting raises :class:`~django.core.exceptions.ImproperlyConfigured`, naming
the setting, when the application is built (``asgi.py``/``wsgi.py``, the middleware when Django
loads ``MIDDLEWARE``) or the URLconf is loaded.

The ASGI and WSGI wrappers answer the token path before Django's middleware runs, so they find the
user the way Django's ``SessionMiddleware`` and ``AuthenticationMiddleware`` would: the session
cookie (``SESSION_COOKIE_NAME``), a store of the configured ``SESSION_ENGINE``, then Django's own
:func:`django.contrib.auth.get_user`: the backend recorded in the session, the user it loads, and
the session auth hash, so a password change logs the user out here too. Inactive users get no
token. The middleware and the view instead use ``request.user``, whatever middleware set it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypedDict

try:
    import django  # noqa: F401 - only to say which extra is missing
except ImportError as exc:  # pragma: no cover - tested in a process that hides django
    raise ImportError(
        'rollout_middleware.contrib.django needs Django: pip install "rollout-middleware[django]"'
    ) from exc

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler, get_str_from_wsgi
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, parse_cookie
from django.urls import URLPattern, path
from starlette.types import ASGIApp, Scope

from ...asgi import RolloutTokenMiddleware as _ASGIMiddleware
from ...config import DEFAULT_MAX_BODY_SIZE, DEFAULT_RESOLVER_TIMEOUT, is_async_callable
from ...decision import Answer, RequestInfo, TokenDecision, request_headers
from ...errors import ConfigurationError
from ...tokens import TokenIssuer
from ...wsgi import RolloutTokenWSGIMiddleware
from .conf import checks_installed, raise_first, read_settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

__all__ = [
    "RolloutOptions",
    "RolloutTokenMiddleware",
    "RolloutTokenView",
    "answer_request",
    "answer_response",
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


def rollout_options() -> RolloutOptions:
    """Read and validate the ``ROLLOUT_*`` settings (see the module docstring for defaults).

    Raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the wrong setting. The
    message never contains the client secret. The settings are those the system checks check
    (:mod:`rollout_middleware.contrib.django.conf`).
    """
    found = read_settings()
    raise_first(found)
    options = found.options
    issuer = options.get("issuer")
    if issuer is None:
        issuer = TokenIssuer(options["client_id"], options["client_secret"], ttl=options["ttl"])
    return {
        "issuer": issuer,
        "path": found.path,
        "methods": tuple(options["methods"]),
        "allowed_origins": tuple(options["allowed_origins"]),
    }


def _hook_and_size(
    on_issue: OnIssue | None, max_body_size: int | None
) -> tuple[OnIssue | None, int]:
    """The wiring's own ``on_issue``/``max_body_size``, else ``ROLLOUT_ON_ISSUE`` /
    ``ROLLOUT_MAX_BODY_SIZE`` (read and checked with the other settings)."""
    options = read_settings().options
    return (
        options.get("on_issue") if on_issue is None else on_issue,
        options.get("max_body_size", DEFAULT_MAX_BODY_SIZE)
        if max_body_size is None
        else max_body_size,
    )


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


def _describe(app: object) -> str:
    if isinstance(app, (ASGIHandler, WSGIHandler)):
        return f"Django's {type(app).__name__}"
    if inspect.isfunction(app) or inspect.isbuiltin(app):
        return f"the function {app.__qualname__}"
    return f"{type(app).__name__} object"


def _check_asgi_app(app: object) -> None:
    """Refuse what is not an ASGI application, saying what was expected."""
    if is_async_callable(app):
        return
    if isinstance(app, WSGIHandler):
        hint = "this is a WSGI application: in wsgi.py, use rollout_wsgi(get_wsgi_application())"
    elif callable(app) and getattr(app, "__name__", "") == "get_asgi_application":
        hint = "call it: rollout_asgi(get_asgi_application())"
    else:
        hint = "give it Django's ASGI application: rollout_asgi(get_asgi_application())"
    raise ImproperlyConfigured(
        f"rollout_asgi() expects an ASGI application (an async callable), got {_describe(app)}; "
        + hint
    )


def _check_wsgi_app(app: object) -> None:
    """Refuse what is not a WSGI application, saying what was expected."""
    hint = ""
    if isinstance(app, ASGIHandler) or is_async_callable(app):
        hint = "this is an ASGI application: in asgi.py, use rollout_asgi(get_asgi_application())"
    elif not callable(app):
        hint = "give it Django's WSGI application: rollout_wsgi(get_wsgi_application())"
    else:
        try:
            inspect.signature(app).bind(object(), object())
        except TypeError:
            hint = (
                "call it: rollout_wsgi(get_wsgi_application())"
                if getattr(app, "__name__", "") == "get_wsgi_application"
                else "a WSGI application takes (environ, start_response)"
            )
        except ValueError:  # no signature to inspect (a builtin): trust it
            return
    if hint:
        raise ImproperlyConfigured(
            f"rollout_wsgi() expects a WSGI application (environ, start_response), got "
            f"{_describe(app)}; {hint}"
        )


def rollout_asgi(
    app: ASGIApp,
    *,
    resolve_user: Callable[[Scope], Any] = user_id_from_scope,
    resolver_timeout: float | None = DEFAULT_RESOLVER_TIMEOUT,
    on_issue: OnIssue | None = None,
    max_body_size: int | None = None,
) -> _ASGIMiddleware:
    """Wrap Django's ASGI application: ``application = rollout_asgi(get_asgi_application())``.

    The ``ROLLOUT_*`` settings are read now; every other path reaches ``app`` untouched. A sync
    ``resolve_user`` or ``on_issue`` runs with ``thread_sensitive=True``, where Django's ORM may run.
    ``on_issue`` and ``max_body_size`` default to ``ROLLOUT_ON_ISSUE`` and ``ROLLOUT_MAX_BODY_SIZE``.
    Anything but an ASGI application (a WSGI one, ``get_asgi_application`` not called) is refused.
    """
    _check_asgi_app(app)
    options = rollout_options()
    on_issue, max_body_size = _hook_and_size(on_issue, max_body_size)
    with _setting("rollout_asgi"):
        return _ASGIMiddleware(
            app,
            resolve_user=resolve_user,
            resolver_timeout=resolver_timeout,
            on_issue=on_issue,
            max_body_size=max_body_size,
            thread_sensitive=True,
            **options,
        )


def rollout_wsgi(
    app: WSGIApplication,
    *,
    resolve_user: Callable[[WSGIEnvironment], Any] = user_id_from_environ,
    resolver_timeout: float | None = DEFAULT_RESOLVER_TIMEOUT,
    on_issue: OnIssue | None = None,
    max_body_size: int | None = None,
) -> RolloutTokenWSGIMiddleware:
    """Wrap Django's WSGI application: ``application = rollout_wsgi(get_wsgi_application())``.

    Anything but a WSGI application (an ASGI one, ``get_wsgi_application`` not called) is refused.
    """
    _check_wsgi_app(app)
    options = rollout_options()
    on_issue, max_body_size = _hook_and_size(on_issue, max_body_size)
    with _setting("rollout_wsgi"):
        return RolloutTokenWSGIMiddleware(
            app,
            resolve_user=resolve_user,
            resolver_timeout=resolver_timeout,
            on_issue=on_issue,
            max_body_size=max_body_size,
            **options,
        )


# --- The view ---------------------------------------------------------------------------------


def content_length(request: HttpRequest) -> int:
    """The request body's declared length (0 when absent or malformed), for the precheck."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def request_info(request: HttpRequest) -> RequestInfo:
    """What the ``on_issue`` hook learns of a Django request."""
    return {
        "method": request.method or "GET",
        "path": request.path,
        "client": request.META.get("REMOTE_ADDR") or None,
    }


def answer_response(
    answer: Answer, response_class: type[HttpResponse] = HttpResponse
) -> HttpResponse:
    """The core's :class:`~rollout_middleware.decision.Answer` as a Django response: its status,
    exactly its headers (Django's default ``Content-Type`` removed where the answer has none) and
    its body."""
    response = response_class(answer.body, status=answer.status)
    del response.headers["Content-Type"]
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
        self, *, on_issue: OnIssue | None = None, max_body_size: int | None = None
    ) -> None:
        options = rollout_options()
        on_issue, max_body_size = _hook_and_size(on_issue, max_body_size)
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
        return answer_response(answer_request(self.decision, request))


@dataclass(frozen=True, slots=True)
class UserLookup:
    """A Django request for the token that passed the precheck: its answer needs the user id.

    The sync and async paths differ only in how they find the user id. Then they call
    :meth:`respond` or :meth:`respond_async` with it, or :meth:`failed` from the ``except`` block
    if finding it raised.
    """

    decision: TokenDecision
    request: HttpRequest
    method: str
    headers: dict[str, str]

    def failed(self) -> Answer:
        """The 500 for a user lookup that raised (logged); call it from the ``except`` block."""
        return self.decision.resolver_failed(self.method, self.headers)

    def respond(self, user_id: str | int | None) -> Answer:
        """The answer for ``user_id``, with ``on_issue`` run on this thread."""
        info = request_info(self.request)
        return self.decision.respond(self.method, user_id, self.headers, info)

    async def respond_async(self, user_id: str | int | None) -> Answer:
        """The answer for ``user_id``, with ``on_issue`` awaited (a sync one in a thread)."""
        info = request_info(self.request)
        return await self.decision.respond_async(self.method, user_id, self.headers, info)


def precheck_request(decision: TokenDecision, request: HttpRequest) -> Answer | UserLookup:
    """The answer that ends a Django request for the token before the user is looked up (403,
    405, 413, the preflight), else the :class:`UserLookup` that finishes it."""
    method = request.method or "GET"
    headers = request_headers(request.headers.get)
    answer = decision.precheck(method, headers, content_length(request))
    return UserLookup(decision, request, method, headers) if answer is None else answer


def answer_request(decision: TokenDecision, request: HttpRequest) -> Answer:
    """The answer to a Django request for the token, for ``request.user``; sync."""
    step = precheck_request(decision, request)
    if isinstance(step, Answer):
        return step
    try:
        user_id = user_id_of(request.user)
    except Exception:
        return step.failed()
    return step.respond(user_id)


@functools.cache
def _default_view() -> RolloutTokenView:
    return RolloutTokenView()


def token_view(request: HttpRequest) -> HttpResponse:
    """The default :class:`RolloutTokenView`, built from the settings (at its first request, or
    when the ``rollout_middleware.contrib.django`` app is ready)."""
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
    validated now, so a wrong one fails when the URLconf loads (``manage.py check`` loads it);
    with the app in ``INSTALLED_APPS`` the app fails the server's start instead and the system
    checks report them under ``manage.py`` (a wrong ``ROLLOUT_TOKEN_PATH`` gives no route there,
    so that every check message is shown). ``view`` defaults to :func:`token_view`.
    """
    if checks_installed():
        found = read_settings()
        if any(p.setting == "ROLLOUT_TOKEN_PATH" for p in found.problems):
            return []
        route = found.path.lstrip("/")
    else:
        route = rollout_options()["path"].lstrip("/")
    return [path(route, view if view is not None else token_view, name="rollout-token")]


from .middleware import RolloutTokenMiddleware  # noqa: E402 - it uses the helpers above
