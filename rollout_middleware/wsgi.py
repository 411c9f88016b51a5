"""The WSGI shell: :class:`RolloutTokenWSGIMiddleware` and :class:`RolloutTokenWSGIEndpoint`.

Native WSGI (PEP 3333) over the same framework-free decision as the ASGI shell, not the ASGI
middleware behind a bridge: no event loop, no extra thread. ``resolve_user(environ)`` runs on the
request thread. An async resolver works too, through :func:`asgiref.sync.async_to_sync`, at the cost
of an event loop per call: prefer a sync resolver under WSGI.

The token path is matched against ``PATH_INFO``, which WSGI already makes relative to
``SCRIPT_NAME`` (the mount point). Environ strings are latin-1 "bytes as str", so the configured path
is compared in that form: its UTF-8 bytes, decoded as latin-1.

``resolver_timeout`` bounds async resolvers only: a sync resolver runs on the server's request
thread, which no WSGI middleware can interrupt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_PATH, Options, ResolverSettings, Settings, as_sync
from .config import shell_settings as _shell_settings
from .decision import HEADER_NAMES, Answer, TokenDecision
from .errors import ResolverTimeoutError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

__all__ = ["RolloutTokenWSGIEndpoint", "RolloutTokenWSGIMiddleware"]

_ENVIRON_KEYS = tuple(
    (name, "HTTP_" + name.upper().replace("-", "_")) for name in sorted(HEADER_NAMES)
)
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
_CHUNK = 64 * 1024


class _TokenWSGIApp:
    """The token answer as a WSGI app, shared by the middleware and the endpoint."""

    __slots__ = ("_resolve", "_timeout", "decision")

    def __init__(self, settings: Settings, resolver: ResolverSettings) -> None:
        self.decision = TokenDecision(settings)
        self._resolve = as_sync(resolver.resolve_user, resolver.is_async, resolver.timeout)
        self._timeout = resolver.timeout

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        decision = self.decision
        method: str = environ["REQUEST_METHOD"]
        headers = {name: environ[key] for name, key in _ENVIRON_KEYS if key in environ}
        answer = decision.precheck(method, headers)
        if (
            answer is None
            and decision.wants_body(method)
            and not _drain(environ, decision.settings.max_body_size)
        ):
            answer = decision.body_too_large(method, headers)
        if answer is None:
            answer = self._answer_user(environ, method, headers)
        start_response(_STATUS_LINES[answer.status], list(answer.headers))
        return [answer.body]

    def _answer_user(
        self, environ: WSGIEnvironment, method: str, headers: dict[str, str]
    ) -> Answer:
        decision = self.decision
        try:
            user_id = self._resolve(environ)
        except ResolverTimeoutError:
            return decision.resolver_timed_out(method, headers, self._timeout)
        except Exception:
            return decision.resolver_failed(method, headers)
        return decision.respond(
            method,
            user_id,
            headers,
            {
                "method": method,
                "path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                "client": environ.get("REMOTE_ADDR") or None,
            },
        )


def _drain(environ: WSGIEnvironment, limit: int) -> bool:
    """Read and discard the request body; False if it exceeds ``limit``.

    With ``CONTENT_LENGTH`` over the limit nothing is read. A body without one (chunked) is read
    only where the server marks the stream as terminated (``wsgi.input_terminated``, as gunicorn
    does), up to one byte past the limit, as the ASGI shell does.
    """
    stream = environ["wsgi.input"]
    if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
        size = 0
        while chunk := stream.read(min(_CHUNK, limit + 1 - size)):
            size += len(chunk)
            if size > limit:
                return False
        return True
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return False
    while length > 0:
        chunk = stream.read(min(length, _CHUNK))
        if not chunk:
            break
        length -= len(chunk)
    return True


def _wsgi_path(path: str) -> str:
    """``path`` as it appears in a WSGI environ: its UTF-8 bytes decoded as latin-1."""
    return path.encode("utf-8").decode("latin-1")


class RolloutTokenWSGIMiddleware:
    """Serve Rollout tokens on one path of a WSGI app; pass every other request to ``app``.

    Options and answers are those of :class:`rollout_middleware.asgi.RolloutTokenMiddleware`;
    ``resolve_user`` receives the WSGI ``environ``. For every other path the wrapped app's own
    iterable is returned untouched, so the server iterates and closes it.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        resolve_user: Callable[[WSGIEnvironment], Any],
        path: str = DEFAULT_PATH,
        **options: Unpack[Options],
    ) -> None:
        self.app = app
        self.path = path
        self._environ_path = _wsgi_path(path)
        self._token_app = _TokenWSGIApp(
            *_shell_settings(type(self).__name__, resolve_user, path, options)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, app={self.app!r})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != self._environ_path:
            return self.app(environ, start_response)
        return self._token_app(environ, start_response)


class RolloutTokenWSGIEndpoint:
    """The token answer as a standalone WSGI app, for ``DispatcherMiddleware``-style mounting.

    It answers every request it is given. Options are those of :class:`RolloutTokenWSGIMiddleware`,
    without ``path``.
    """

    def __init__(
        self,
        *,
        resolve_user: Callable[[WSGIEnvironment], Any],
        **options: Unpack[Options],
    ) -> None:
        self._token_app = _TokenWSGIApp(
            *_shell_settings(type(self).__name__, resolve_user, None, options)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._token_app(environ, start_response)
