"""The framework-free core: which request is ours, who the user is, and what the answer is."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from . import _config
from ._config import TOKEN, RequestInfo, Settings
from ._sync import as_async, as_sync, await_within, first_step
from .errors import ConfigurationError, InvalidUserIdError, ResolverTimeoutError
from .tokens import IssuedToken, TokenIssuer

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._config import AnswerOptions

__all__ = [
    "HEADER_NAMES",
    "Answer",
    "ClientDisconnected",
    "TokenDecision",
    "TokenRequest",
    "add_cors",
    "read_stream",
]

logger = logging.getLogger("rollout_middleware")

#: The request headers the decision reads, by lower-case name.
HEADER_NAMES = frozenset(
    {"origin", "sec-fetch-site", "access-control-request-method", "access-control-request-headers"}
)
_RAW_NAMES = frozenset(name.encode("latin-1") for name in HEADER_NAMES)
_HEADER_LIST = re.compile(rf"{TOKEN.pattern}(?:[ \t]*,[ \t]*{TOKEN.pattern})*")

_COMMON = (
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
)
_JSON = (("Content-Type", "application/json"), *_COMMON)
_PROBLEM = (("Content-Type", "application/problem+json"), *_COMMON)
_JSON_RAW = tuple((k.lower().encode(), v.encode()) for k, v in _JSON)
_PREFLIGHT_MAX_AGE = "600"
_CHUNK = 64 * 1024


class ClientDisconnected(Exception):
    """Raised by an adapter's body iterator when the client went away: nobody gets an answer."""


class Answer(NamedTuple):
    """A complete HTTP answer: ``headers`` as ``str`` pairs (WSGI), ``raw_headers`` as lower-case
    latin-1 bytes (ASGI), ``Content-Length`` included, and the body (empty for ``HEAD``)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @classmethod
    def make(
        cls, status: int, headers: tuple[tuple[str, str], ...], body: bytes, *, head: bool = False
    ) -> Answer:
        raw = _raw(headers)
        if status != 204:  # RFC 9110 section 8.6: a 204 has no Content-Length
            length = str(len(body))
            headers = (*headers, ("Content-Length", length))
            raw = (*raw, (b"content-length", length.encode("latin-1")))
        return cls(status, headers, raw, b"" if head else body)

    def with_headers(self, extra: tuple[tuple[str, str], ...]) -> Answer:
        if not extra:
            return self
        return Answer(self.status, self.headers + extra, self.raw_headers + _raw(extra), self.body)


#: ``Answer`` and ``TokenRequest`` from a tuple, without the Python-level ``__new__`` of a
#: NamedTuple (what its ``_make`` does): they are built on every token request.
_answer: Callable[[tuple[Any, ...]], Answer] = functools.partial(tuple.__new__, Answer)


@functools.lru_cache(maxsize=256)
def _raw(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)


class TokenRequest(NamedTuple):
    """What the core needs of a request: plain values, built by :meth:`TokenDecision.request`."""

    method: str
    headers: Mapping[str, str]
    path: str
    client: str | None
    content_length: int | None
    cors: tuple[tuple[str, str], ...]

    @property
    def head(self) -> bool:
        return self.method == "HEAD"

    @property
    def info(self) -> RequestInfo:
        return {"method": self.method, "path": self.path, "client": self.client}


_token_request: Callable[[tuple[Any, ...]], TokenRequest] = functools.partial(
    tuple.__new__, TokenRequest
)


def _problem(
    status: int, detail: str, extra: tuple[tuple[str, str], ...] = ()
) -> dict[bool, Answer]:
    """The answers (by ``head``) of one RFC 9457 problem."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        },
        separators=(",", ":"),
    ).encode()
    return {
        head: Answer.make(status, (*_PROBLEM, *extra), body, head=head) for head in (False, True)
    }


class TokenDecision:
    """The rules and the request sequence, from plain values; one per entry point, built once."""

    __slots__ = (
        "_401",
        "_403",
        "_405",
        "_413",
        "_500",
        "_503",
        "_issuer",
        "_logged",
        "_methods",
        "_on_issue_async",
        "_on_issue_sync",
        "_origins",
        "_preflight",
        "_unavailable",
        "allow",
        "settings",
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._methods = settings.methods
        self._origins = settings.allowed_origins
        self._issuer: TokenIssuer | None = None
        #: Wiring mistakes already logged: each once, not on every request.
        self._logged: set[str] = set()
        methods = set(settings.methods)
        if settings.allowed_origins:
            methods.add("OPTIONS")
        self.allow = ", ".join(sorted(methods))
        self._401 = _problem(401, "Log in to get a Rollout token.")
        self._403 = _problem(403, "Cross-site requests for a Rollout token are refused.")
        self._405 = _problem(
            405, "This method does not serve Rollout tokens.", (("Allow", self.allow),)
        )
        self._413 = _problem(413, "The request body is too large.")
        self._500 = _problem(500, "The Rollout token could not be issued.")
        self._503 = _problem(503, "The user could not be identified in time; try again.")
        self._unavailable = _problem(503, "Rollout tokens are not available right now.")
        self._preflight = (
            ("Access-Control-Allow-Methods", ", ".join(sorted(settings.methods - {"HEAD"}))),
            ("Access-Control-Max-Age", _PREFLIGHT_MAX_AGE),
        )
        hook, is_async = settings.on_issue, settings.on_issue_is_async
        self._on_issue_sync = None if hook is None else as_sync(hook, is_async)
        self._on_issue_async = (
            None
            if hook is None
            else as_async(hook, is_async, thread_sensitive=settings.thread_sensitive)
        )

    @classmethod
    def build(cls, *, path: str | None = None, **options: Unpack[AnswerOptions]) -> TokenDecision:
        """A decision from the answer options, checked now. ``path`` only if the adapter asks
        :meth:`owns`; a router that already chose the request leaves it out."""
        takes = _config.ANSWER_OPTIONS | ({"path"} if path is not None else set())
        given = dict(options, path=path) if path is not None else options
        return cls(_config.build("TokenDecision.build", given, takes))

    def __repr__(self) -> str:
        return (
            f"TokenDecision(path={self.settings.path!r}, credentials={self.settings.credentials!r})"
        )

    # -- Which request is ours ------------------------------------------------------------------

    def owns(self, path: str, mount: str | None = None) -> bool:
        """Whether ``path`` is the token path, exactly, relative to ``mount`` (stripped at a
        ``/`` boundary). ``/rollout-token/`` is another path."""
        if self.settings.path is None:
            return True
        if mount and path.startswith(mount):
            rest = path[len(mount) :]
            if not rest or rest.startswith("/"):
                path = rest
        return path == self.settings.path

    def request(
        self,
        method: str,
        headers: Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]],
        *,
        path: str = "",
        client: str | None = None,
        content_length: int | str | None = None,
    ) -> TokenRequest:
        """The :class:`TokenRequest` of a request: ``headers`` are all its ``(name, value)`` pairs
        (or the :data:`HEADER_NAMES` ones), as ``str`` or as ASGI's lower-case latin-1 bytes;
        repeated ones are joined with ``,``."""
        found: dict[str, str] = {}
        for key, text in headers:
            if isinstance(key, bytes):
                if key not in _RAW_NAMES:
                    continue
                name, value = key.decode("latin-1"), text.decode("latin-1")  # type: ignore[union-attr]
            else:
                name, value = key.lower(), text
                if name not in HEADER_NAMES:
                    continue
            found[name] = f"{found[name]},{value}" if name in found else value
        if content_length.__class__ is str:
            content_length = (
                int(content_length)
                if content_length.isascii() and content_length.isdigit()
                else None
            )
        cors = self._cors(found) if found and self._origins else ()
        return _token_request((method, found, path, client, content_length, cors))

    def _cors(self, headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        origin = headers.get("origin")
        if origin is None or not origin.isascii() or origin.lower() not in self._origins:
            return ()
        return (
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        )

    # -- The sequence ---------------------------------------------------------------------------

    def precheck(self, request: TokenRequest) -> Answer | None:
        """The answer before the user is looked up (preflight, 403, 405, 413), or ``None``."""
        method, headers, _, _, length, cors = request
        head = method == "HEAD"
        site = headers.get("sec-fetch-site")
        if (site and "," in site) or ("," in headers.get("origin", "")):
            return _refused(request, self._403[head])  # a repeated header: ambiguous
        if method == "OPTIONS" and cors and "access-control-request-method" in headers:
            extra: tuple[tuple[str, str], ...] = self._preflight
            requested = headers.get("access-control-request-headers")
            if requested and _HEADER_LIST.fullmatch(requested.strip()):
                extra = (*extra, ("Access-Control-Allow-Headers", requested.strip()))
            return Answer.make(204, (*_COMMON, *cors, *extra), b"")
        if (
            method == "OPTIONS"
            and self.settings.allowed_origins
            and "access-control-request-method" in headers
        ) or (site == "cross-site" and not cors):
            return _refused(request, self._403[head])
        if method not in self._methods:
            return self._405[head].with_headers(cors)
        if length is not None and length > self.settings.max_body_size and _has_body(method):
            return self._413[head].with_headers(cors)
        return None

    def check_body(self, request: TokenRequest, body: Iterable[bytes] | None) -> Answer | None:
        """Read and discard the body's chunks: 413 past ``max_body_size``, else ``None``."""
        if body is not None and _has_body(request.method):
            size, limit = 0, self.settings.max_body_size
            try:
                for chunk in body:
                    size += len(chunk)
                    if size > limit:
                        return self._413[request.head].with_headers(request.cors)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        return None

    async def check_body_async(
        self, request: TokenRequest, body: AsyncIterator[bytes] | None
    ) -> Answer | None:
        """:meth:`check_body` for an async iterator (which may raise :class:`ClientDisconnected`)."""
        if body is not None and _has_body(request.method):
            size, limit = 0, self.settings.max_body_size
            try:
                async for chunk in body:
                    size += len(chunk)
                    if size > limit:
                        return self._413[request.head].with_headers(request.cors)
            finally:  # an iterator left early is closed now, not by the garbage collector
                aclose = getattr(body, "aclose", None)
                if aclose is not None:
                    await aclose()
        return None

    def handle(
        self,
        request: TokenRequest,
        find_user: Callable[[], Any],
        body: Iterable[bytes] | None = None,
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> Answer:
        """The whole sequence on a request thread: precheck, the body (counted, discarded),
        ``find_user()``, the answer. ``passthrough`` exceptions of ``find_user`` propagate, for the
        framework to render; any other is logged and answered 500."""
        answer = self.precheck(request) or self.check_body(request, body)
        if answer is not None:
            return answer
        try:
            user_id = find_user()
        except passthrough:
            raise
        except Exception:
            return self.failed(request)
        return self.respond(request, user_id)

    async def handle_async(
        self,
        request: TokenRequest,
        find_user: Callable[[], Awaitable[Any]],
        body: AsyncIterator[bytes] | None = None,
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> Answer | None:
        """:meth:`handle` on an event loop: ``find_user()`` is awaited within
        ``resolver_timeout``. ``None`` when the body's iterator raised :class:`ClientDisconnected`."""
        answer = self.start(request, find_user, body, passthrough=passthrough)
        return answer if isinstance(answer, Answer) else await answer

    def start(
        self,
        request: TokenRequest,
        find_user: Callable[[], Awaitable[Any]],
        body: AsyncIterator[bytes] | None = None,
        *,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> Answer | Awaitable[Answer | None]:
        """:meth:`handle_async` as far as it goes without waiting: the answer, or what to await
        for it (a body to read, a resolver that waits, an async ``on_issue``). Most token requests
        need no coroutine of ours at all, which a loaded server feels."""
        method, headers, _, _, length, _ = request
        if headers or length is not None or method not in self._methods:  # else nothing to check
            answer = self.precheck(request)
            if answer is not None:
                return answer
        if body is not None and _has_body(method):
            return self._after_body(request, find_user, body, passthrough)
        try:
            done, user_id = first_step(find_user())
        except passthrough:
            raise
        except Exception:
            return self.failed(request)
        if not done:
            return self._after_wait(request, user_id, passthrough)
        if self._on_issue_async is None:
            return self._deliver(request, user_id)[0]
        return self.respond_async(request, user_id)

    async def _after_body(
        self,
        request: TokenRequest,
        find_user: Callable[[], Awaitable[Any]],
        body: AsyncIterator[bytes],
        passthrough: tuple[type[BaseException], ...],
    ) -> Answer | None:
        try:
            answer = await self.check_body_async(request, body)
        except ClientDisconnected:
            return None
        # Checked already: on to the user, in _after_wait's try (no second precheck).
        return answer or await self._after_wait(request, _awaited(find_user), passthrough)

    async def _after_wait(
        self,
        request: TokenRequest,
        rest: Awaitable[Any],
        passthrough: tuple[type[BaseException], ...],
    ) -> Answer:
        try:
            user_id = await await_within(rest, self.settings.resolver_timeout)
        except passthrough:
            raise
        except Exception:
            return self.failed(request)
        return await self.respond_async(request, user_id)

    # -- The answer for a user --------------------------------------------------------------------

    def answer(self, request: TokenRequest, user_id: object) -> tuple[Answer, IssuedToken | None]:
        """The answer for ``user_id``, and the token it delivers (none for ``HEAD``)."""
        answer, issued = self._deliver(request, user_id)
        return answer, None if issued is None else IssuedToken(*issued)

    def _deliver(
        self, request: TokenRequest, user_id: object
    ) -> tuple[Answer, tuple[str, str, int, int] | None]:
        """:meth:`answer`, the token as :meth:`TokenIssuer.issue_values`' tuple."""
        method, _, _, _, _, cors = request
        head = method == "HEAD"
        if user_id is None:
            return self._401[head].with_headers(cors), None
        issuer = self._issuer or self.issuer()
        if issuer is None:
            return self._unavailable[head].with_headers(cors), None
        try:
            issued = token, subject, expires_at, expires_in = issuer.issue_values(user_id)
        except InvalidUserIdError as exc:
            logger.error("The resolver returned an invalid Rollout user id: %s", exc)
            return self._500[head].with_headers(cors), None
        body = b'{"token":"%s","expires_at":%d,"expires_in":%d}' % (
            token.encode("ascii"),
            expires_at,
            expires_in,
        )
        if head:
            return Answer.make(200, _JSON + cors, body, head=True), None
        if cors:
            answer = Answer.make(200, _JSON + cors, body)
        else:  # the common answer: its headers made once per body length
            answer = _answer((200, *_ok_headers(len(body)), body))
        if logger.isEnabledFor(logging.INFO):
            logger.info("Issued a Rollout token for user %r, expiring at %d", subject, expires_at)
        return answer, issued

    def issuer(self) -> TokenIssuer | None:
        """The token issuer, or ``None`` (logged at ERROR) while the credentials are missing."""
        try:
            self._issuer = self.settings.credentials.issuer()
        except ConfigurationError as exc:
            logger.error("Cannot issue Rollout tokens (answered 503): %s", exc)
        return self._issuer

    def respond(self, request: TokenRequest, user_id: object) -> Answer:
        """:meth:`answer`, then ``on_issue`` on this thread (a failing hook is logged)."""
        answer, issued = self._deliver(request, user_id)
        if issued is not None and self._on_issue_sync is not None:
            try:
                self._on_issue_sync(issued[1], issued[2], request.info)  # subject, expires_at
            except Exception:
                _hook_failed()
        return answer

    async def respond_async(self, request: TokenRequest, user_id: object) -> Answer:
        """:meth:`answer`, then ``on_issue`` awaited (a sync hook in a worker thread)."""
        answer, issued = self._deliver(request, user_id)
        if issued is not None and self._on_issue_async is not None:
            try:
                await self._on_issue_async(issued[1], issued[2], request.info)
            except ConfigurationError as exc:
                self._misconfigured(
                    "on_issue hook", exc, "Tokens are served, but the hook does not run"
                )
            except Exception:
                _hook_failed()
        return answer

    def failed(self, request: TokenRequest) -> Answer:
        """Log the user lookup's exception (call it from the ``except`` block) and answer 500, or
        503 if it took longer than ``resolver_timeout``."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ResolverTimeoutError):
            logger.error("The Rollout user resolver %s", exc)
            return self._503[request.head].with_headers(request.cors)
        if isinstance(exc, ConfigurationError):
            self._misconfigured("user resolver", exc, "Every request for a token fails with 500")
        else:
            logger.exception("The Rollout user resolver raised an exception")
        return self._500[request.head].with_headers(request.cors)

    def _misconfigured(self, what: str, exc: ConfigurationError, consequence: str) -> None:
        message = f"(its {what} raised): {exc}. {consequence}"
        if message not in self._logged:
            self._logged.add(message)
            logger.error(
                "The Rollout token endpoint is misconfigured %s until this is fixed; "
                "this is logged once.",
                message,
            )


@functools.lru_cache(maxsize=1024)  # a few lengths in practice: they vary with the user id's
def _ok_headers(length: int) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[bytes, bytes], ...]]:
    headers = (*_JSON, ("Content-Length", str(length)))
    return headers, _raw(headers)


def _refused(request: TokenRequest, answer: Answer) -> Answer:
    """Log a cross-site refusal at INFO: with a CORS middleware before ours the preflight
    succeeds, so only this line says why the fetch fails."""
    logger.info(
        "Refused a cross-site request for a Rollout token at %s (Origin: %r): a page of another "
        "origin may fetch a token only if allowed_origins (ROLLOUT_ALLOWED_ORIGINS) lists its "
        "origin",
        request.path,
        request.headers.get("origin"),
    )
    return answer


async def _awaited(find_user: Callable[[], Awaitable[Any]]) -> Any:
    return await find_user()


def _hook_failed() -> None:
    logger.exception("The Rollout on_issue hook raised an exception; the token was served")


#: The methods whose body the core never counts (the shells make no body iterator for them).
BODYLESS_METHODS = ("GET", "HEAD")


def _has_body(method: str) -> bool:
    return method not in BODYLESS_METHODS


class _Headers(Protocol):
    """A framework's response headers, as :func:`add_cors` uses them."""

    def get(self, key: str, /) -> Any: ...

    def __setitem__(self, key: str, value: str, /) -> None: ...


def add_cors(headers: _Headers, cors: Iterable[tuple[str, str]]) -> None:
    """Add a request's ``cors`` headers to an answer the framework rendered itself (its ``401``,
    an error page): a page of an allowed origin can then read that answer too. An answer that
    already has ``Access-Control-Allow-Origin`` (the app's own CORS) is left as it is; ``Vary`` is
    merged, every line of it (werkzeug's ``getlist``, aiohttp's ``getall``)."""
    if headers.get("Access-Control-Allow-Origin") is not None:
        return
    for name, value in cors:
        if name != "Vary":
            headers[name] = value
            continue
        if hasattr(headers, "getlist"):
            lines = headers.getlist(name)
        elif hasattr(headers, "getall"):
            lines = headers.getall(name, [])
        else:
            lines = [headers.get(name) or ""]
        vary = ", ".join(line for line in lines if line)
        listed = {part.strip().lower() for part in vary.split(",")}
        if not listed & {"*", value.lower()}:
            headers[name] = f"{vary}, {value}" if vary else value


def read_stream(read: Callable[[int], bytes], length: int | None, limit: int) -> Iterator[bytes]:
    """The chunks of a file-like body: ``length`` bytes, or to its end when ``None`` (chunked),
    never more than one byte past ``limit``."""
    left = limit + 1 if length is None else min(length, limit + 1)
    while left > 0:
        chunk = read(min(left, _CHUNK))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk
