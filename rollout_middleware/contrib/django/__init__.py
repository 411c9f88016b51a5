"""Django: Rollout tokens for Django's logged-in user."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

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
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest, get_str_from_wsgi
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, RawPostDataException, parse_cookie
from django.urls import URLPattern, path
from starlette.types import ASGIApp, Scope

from ... import _config
from ..._sync import is_async_callable
from ...asgi import RolloutTokenMiddleware as _ASGIMiddleware
from ...decision import Answer, TokenDecision, TokenRequest
from ...errors import ConfigurationError
from ...wsgi import RolloutTokenWSGIMiddleware, environ_body
from .conf import SOURCES, TAKES, checked_at_url_load, default_decision, settings_for

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

_T = TypeVar("_T")

__all__ = [
    "RolloutTokenMiddleware",
    "RolloutTokenView",
    "answer_response",
    "rollout_asgi",
    "rollout_wsgi",
    "token_urlpatterns",
    "token_view",
    "user_id_for_session",
    "user_id_from_environ",
    "user_id_from_scope",
    "user_id_of",
]


def user_id_of(user: object) -> object:
    """The Rollout user id of a Django user: its ``pk`` (an int, a str or a UUID as it is, any
    other as its ``str``), or ``None`` for ``None``, anonymous and inactive users."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return None
    pk = getattr(user, "pk", None)
    return pk if pk is None or isinstance(pk, (int, str, uuid.UUID)) else str(pk)


def user_id_for_session(session_key: str) -> object:
    """The id of the active user logged in to the session ``session_key``, or ``None``. Sync."""
    close_old_connections()
    try:
        request = HttpRequest()
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        session.cycle_key = lambda: None  # a new key would be saved, yet never sent to the browser
        request.session = session
        return user_id_of(get_user(request))
    finally:
        close_old_connections()


def _session_key(cookie_header: str) -> str | None:
    return parse_cookie(cookie_header).get(settings.SESSION_COOKIE_NAME) or None


async def user_id_from_scope(scope: Scope) -> object:
    """ASGI resolver: the id of the Django user logged in to this request's session, or ``None``."""
    cookies = (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"cookie")
    session_key = _session_key("; ".join(cookies))  # HTTP/2 may send several Cookie headers
    if session_key is None:
        return None
    async with ThreadSensitiveContext():
        return await sync_to_async(user_id_for_session, thread_sensitive=True)(session_key)


def user_id_from_environ(environ: WSGIEnvironment) -> object:
    """WSGI resolver: :func:`user_id_from_scope` for a WSGI environ, on the request thread."""
    session_key = _session_key(get_str_from_wsgi(environ, "HTTP_COOKIE", ""))
    return None if session_key is None else user_id_for_session(session_key)


def _wrong_app(app: object, expected: str, hint: str) -> ImproperlyConfigured:
    if isinstance(app, (ASGIHandler, WSGIHandler)):
        what = f"Django's {type(app).__name__}"
    elif inspect.isfunction(app) or inspect.isbuiltin(app):
        what = f"the function {app.__qualname__}"
    else:
        what = f"{type(app).__name__} object"
    return ImproperlyConfigured(f"{expected}, got {what}; {hint}")


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
    raise _wrong_app(app, "rollout_asgi() expects an ASGI application (an async callable)", hint)


def _check_wsgi_app(app: object) -> None:
    """Refuse what is not a WSGI application, saying what was expected."""
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
        else:
            return
    expected = "rollout_wsgi() expects a WSGI application (environ, start_response)"
    raise _wrong_app(app, expected, hint)


def _shell(
    owner: str, build: Callable[..., _T], app: Any, given: dict[str, Any], **fixed: Any
) -> _T:
    """``build(app, **options, **fixed)``, the options from ``given`` (where not ``None``) and the
    ``ROLLOUT_*`` settings; a wrong one is ``ImproperlyConfigured`` naming its setting."""
    given = {k: v for k, v in given.items() if v is not None}
    options, origin, errors = _config.gather(given, SOURCES, TAKES)
    if errors:
        raise ImproperlyConfigured(str(_config.located(errors[0], origin)))
    try:
        return build(app, **options, **fixed)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"{owner}: {_config.located(exc, origin)}") from None


def rollout_asgi(
    app: ASGIApp,
    *,
    resolve_user: Callable[[Scope], Any] = user_id_from_scope,
    resolver_timeout: float | None = _config.DEFAULT_RESOLVER_TIMEOUT,
    on_issue: Callable[..., Any] | None = None,
    max_body_size: int | None = None,
) -> _ASGIMiddleware:
    """Wrap Django's ASGI application: ``application = rollout_asgi(get_asgi_application())``."""
    _check_asgi_app(app)
    given = {"on_issue": on_issue, "max_body_size": max_body_size}
    return _shell(
        "rollout_asgi",
        _ASGIMiddleware,
        app,
        {**given, "resolve_user": resolve_user},
        resolver_timeout=resolver_timeout,  # None means no limit: not dropped as "not given"
        thread_sensitive=True,
    )


def rollout_wsgi(
    app: WSGIApplication,
    *,
    resolve_user: Callable[[WSGIEnvironment], Any] = user_id_from_environ,
    resolver_timeout: float | None = _config.DEFAULT_RESOLVER_TIMEOUT,
    on_issue: Callable[..., Any] | None = None,
    max_body_size: int | None = None,
) -> RolloutTokenWSGIMiddleware:
    """Wrap Django's WSGI application: ``application = rollout_wsgi(get_wsgi_application())``."""
    _check_wsgi_app(app)
    given = {"on_issue": on_issue, "max_body_size": max_body_size}
    return _shell(
        "rollout_wsgi",
        RolloutTokenWSGIMiddleware,
        app,
        given,
        resolve_user=resolve_user,
        resolver_timeout=resolver_timeout,
    )


def token_request(decision: TokenDecision, request: HttpRequest) -> TokenRequest:
    """The core's view of a Django request."""
    return decision.request(
        request.method or "GET",
        request.headers.items(),
        path=request.path,
        client=request.META.get("REMOTE_ADDR") or None,
        content_length=request.META.get("CONTENT_LENGTH"),
    )


def request_body(request: HttpRequest, limit: int) -> Iterable[bytes]:
    """The body's chunks: a chunked WSGI body (which Django itself never reads) from the server's
    stream, else Django's own ``request.body``, kept for whatever reads it after us (CSRF)."""
    if isinstance(request, WSGIRequest) and not request.META.get("CONTENT_LENGTH"):
        return environ_body(request.environ, limit)
    try:
        return (request.body,)
    except RawPostDataException:  # read as a stream before us: nothing left to count
        return ()


def answer_request(decision: TokenDecision, request: HttpRequest) -> Answer:
    """The answer to a Django request for the token, for ``request.user``; sync."""
    return decision.handle(
        token_request(decision, request),
        lambda: user_id_of(request.user),
        request_body(request, decision.settings.max_body_size),
    )


def answer_response(
    answer: Answer, response_class: type[HttpResponse] = HttpResponse
) -> HttpResponse:
    """The core's answer as a Django response: its status, exactly its headers, its body."""
    response = response_class(answer.body, status=answer.status)
    del response.headers["Content-Type"]
    for name, value in answer.headers:
        response.headers[name] = value
    return response


class RolloutTokenView:
    """A Django view serving a token for ``request.user``, with the middleware's answers."""

    __slots__ = ("decision",)

    def __init__(
        self, *, on_issue: Callable[..., Any] | None = None, max_body_size: int | None = None
    ) -> None:
        given = {"on_issue": on_issue, "max_body_size": max_body_size}
        given = {k: v for k, v in given.items() if v is not None}
        self.decision = TokenDecision(settings_for(type(self).__name__, given))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return answer_response(answer_request(self.decision, request))


def token_view(request: HttpRequest) -> HttpResponse:
    """A :class:`RolloutTokenView` of the settings alone, built at its first request."""
    return answer_response(answer_request(default_decision(), request))


def token_urlpatterns(
    view: Callable[[HttpRequest], HttpResponse] | None = None,
) -> list[URLPattern]:
    """The token route at ``ROLLOUT_TOKEN_PATH``, named ``"rollout-token"``, for ``include()``."""
    if not checked_at_url_load():
        return []
    route = default_decision().settings.path or _config.DEFAULT_PATH
    return [path(route.lstrip("/"), view if view is not None else token_view, name="rollout-token")]


from .middleware import RolloutTokenMiddleware  # noqa: E402 - it uses the helpers above
