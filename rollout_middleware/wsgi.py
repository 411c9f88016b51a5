"""The WSGI shell: :class:`RolloutTokenWSGIMiddleware` and :class:`RolloutTokenWSGIEndpoint`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from . import _config
from ._config import DEFAULT_PATH, SHELL_OPTIONS, Settings
from ._sync import as_sync
from .decision import HEADER_NAMES, TokenDecision, read_stream

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

    from ._config import Options

__all__ = ["RolloutTokenWSGIEndpoint", "RolloutTokenWSGIMiddleware"]

_ENVIRON_KEYS = tuple(
    (name, "HTTP_" + name.upper().replace("-", "_")) for name in sorted(HEADER_NAMES)
)
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def environ_headers(environ: WSGIEnvironment) -> Iterator[tuple[str, str]]:
    """The :data:`~rollout_middleware.decision.HEADER_NAMES` headers of a WSGI environ."""
    for name, key in _ENVIRON_KEYS:
        if key in environ:
            yield name, environ[key]


def environ_body(environ: WSGIEnvironment, limit: int) -> Iterator[bytes]:
    """The request body's chunks: ``CONTENT_LENGTH`` bytes, or a chunked body where the server
    marks the stream as terminated (``wsgi.input_terminated``, as gunicorn does)."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared.isdigit():
        return read_stream(environ["wsgi.input"].read, int(declared), limit)
    if not declared and environ.get("wsgi.input_terminated"):
        return read_stream(environ["wsgi.input"].read, None, limit)
    return iter(())


class _Shell:
    """Answers every request it is given; the middleware first passes the others to its app."""

    def __init__(self, settings: Settings) -> None:
        self._decision = TokenDecision(settings)
        self._resolve = as_sync(
            settings.resolve_user,  # type: ignore[arg-type]
            settings.resolver_is_async,
            settings.resolver_timeout,
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        decision, resolve = self._decision, self._resolve
        request = decision.request(
            environ["REQUEST_METHOD"],
            environ_headers(environ),
            path=environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
            client=environ.get("REMOTE_ADDR") or None,
            content_length=environ.get("CONTENT_LENGTH"),
        )
        answer = decision.handle(
            request,
            lambda: resolve(environ),
            environ_body(environ, decision.settings.max_body_size),
        )
        start_response(STATUS_LINES[answer.status], list(answer.headers))
        return [answer.body]


class RolloutTokenWSGIMiddleware(_Shell):
    """Serve Rollout tokens on ``path`` (matched against ``PATH_INFO``, relative to the mount);
    return every other request's iterable from ``app`` untouched. Options as the ASGI middleware's.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        resolve_user: Callable[[WSGIEnvironment], Any],
        path: str = DEFAULT_PATH,
        **options: Unpack[Options],
    ) -> None:
        given = {**options, "resolve_user": resolve_user, "path": path}
        super().__init__(_config.build(type(self).__name__, given, SHELL_OPTIONS))
        self.app, self.path = app, path
        self._environ_path = path.encode("utf-8").decode("latin-1")  # as PATH_INFO holds it

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, app={self.app!r})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != self._environ_path:  # all a pass-through costs
            return self.app(environ, start_response)
        return _Shell.__call__(self, environ, start_response)


class RolloutTokenWSGIEndpoint(_Shell):
    """The token answer as a WSGI app: it answers every request it is given."""

    def __init__(
        self, *, resolve_user: Callable[[WSGIEnvironment], Any], **options: Unpack[Options]
    ) -> None:
        given = {**options, "resolve_user": resolve_user}
        super().__init__(_config.build(type(self).__name__, given, SHELL_OPTIONS - {"path"}))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
