"""The request decision: which request is ours, and what the answer is.

This module knows nothing of ASGI or WSGI. It takes plain values (a method, a path relative to the
mount point, a few request headers as ``str``, the user id the app's resolver returned) and gives
plain values back: an :class:`Answer` with a status, headers and a body. The shells in
:mod:`rollout_middleware.asgi` and :mod:`rollout_middleware.wsgi` only translate to and from it, so
both behave the same by construction.

The answers:

==========  ======================================================================================
200         ``{"token", "expires_at", "expires_in"}``, a fresh token on every request
204         the CORS preflight (``OPTIONS``) from an origin in ``allowed_origins``
401         the resolver returned ``None``: nobody is logged in
403         a cross-site browser request (``Sec-Fetch-Site: cross-site``) from an origin that is
            not in ``allowed_origins``
405         a method that is not configured, with ``Allow``
413         a request body larger than ``max_body_size``
500         the resolver raised, or returned something that is not a user id (logged, with the
            traceback; the body says nothing of it)
503         the resolver took longer than ``resolver_timeout``
==========  ======================================================================================

Every answer carries ``Cache-Control: no-store``, ``Pragma: no-cache`` and
``X-Content-Type-Options: nosniff``, and a correct ``Content-Length``. A ``HEAD`` answer has the
headers of the ``GET`` answer and no body. Errors are RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from .config import AnswerOptions, RequestInfo, Settings, as_async, as_sync
from .errors import ConfigurationError, InvalidUserIdError
from .tokens import IssuedToken

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["HEADER_NAMES", "Answer", "RequestInfo", "TokenDecision", "request_headers"]

logger = logging.getLogger("rollout_middleware")

#: The request headers the decision reads, by lower-case name. Shells pass only these.
HEADER_NAMES = frozenset(
    {"origin", "sec-fetch-site", "access-control-request-method", "access-control-request-headers"}
)


def request_headers(get: Callable[[str], str | None]) -> dict[str, str]:
    """The :data:`HEADER_NAMES` headers of a request, from its header mapping's ``get``.

    Every framework's request headers are a case-insensitive mapping with ``get``: pass
    ``request.headers.get`` (Starlette, Django, aiohttp, Tornado, Flask).
    """
    return {name: value for name in HEADER_NAMES if (value := get(name)) is not None}


_COMMON = (
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
)
_JSON = (("Content-Type", "application/json"), *_COMMON)
_PROBLEM = (("Content-Type", "application/problem+json"), *_COMMON)
_PREFLIGHT_MAX_AGE = "600"


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete HTTP answer: status, headers and body.

    ``headers`` are ``(name, value)`` strings with canonical capitalisation, for WSGI;
    ``raw_headers`` are the same as lower-case latin-1 bytes, for ASGI. Build one with :meth:`make`.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @classmethod
    def make(
        cls, status: int, headers: tuple[tuple[str, str], ...], body: bytes, *, head: bool = False
    ) -> Answer:
        """An answer with ``Content-Length`` added; for ``HEAD`` (``head=True``) with no body.

        A 204 gets no ``Content-Length`` (RFC 9110 section 8.6).
        """
        raw = _raw(headers)
        if status != 204:
            length = str(len(body))
            headers = (*headers, ("Content-Length", length))
            raw = (*raw, (b"content-length", length.encode("latin-1")))
        return cls(status, headers, raw, b"" if head else body)

    def with_headers(self, extra: tuple[tuple[str, str], ...]) -> Answer:
        """This answer with ``extra`` headers appended (the CORS headers of an allowed origin)."""
        if not extra:
            return self
        return Answer(self.status, self.headers + extra, self.raw_headers + _raw(extra), self.body)


@functools.lru_cache(maxsize=256)
def _raw(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    """``headers`` as ASGI wants them: lower-case latin-1 bytes. Cached: the same few header sets
    (the constant ones, and those of each allowed origin) come back on every request."""
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)


def _problem(
    status: int, detail: str, extra: tuple[tuple[str, str], ...] = ()
) -> dict[bool, Answer]:
    """The answers (by ``head``) of one RFC 9457 problem."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": phrase, "status": status, "detail": detail},
        separators=(",", ":"),
    ).encode()
    return {
        head: Answer.make(status, (*_PROBLEM, *extra), body, head=head) for head in (False, True)
    }


class TokenDecision:
    """Decides the answer to each request for the token path, from plain values.

    Build it with :meth:`build` (the :class:`~rollout_middleware.config.AnswerOptions`, checked
    now) or from ready :class:`~rollout_middleware.config.Settings`. It needs nothing of how the
    user is found. An adapter for a framework that finds the user itself calls, per request:

    1. :meth:`precheck` with the method, the :data:`HEADER_NAMES` headers (see
       :func:`request_headers`) and the body's declared length: an answer here (403, 405, 413, the
       preflight) ends the request before the user is looked up;
    2. the framework's own auth, for the user id (``str``/``int``) or ``None``;
    3. :meth:`respond` (on a request thread) or :meth:`respond_async` (on an event loop) with it,
       which mints the token, logs, calls ``on_issue`` and returns the :class:`Answer`; if finding
       the user raised, :meth:`resolver_failed` from the ``except`` block.

    A middleware also calls :meth:`owns` first, with the path relative to the mount point.
    Instances hold only precomputed, immutable values: nothing of one request survives it.
    """

    __slots__ = (
        "_401",
        "_403",
        "_405",
        "_413",
        "_500",
        "_503",
        "_misconfigurations_logged",
        "_on_issue_async",
        "_on_issue_sync",
        "_preflight",
        "allow",
        "issuer",
        "settings",
    )

    def __init__(self, settings: Settings, *, thread_sensitive: bool = False) -> None:
        """``thread_sensitive``: where :meth:`respond_async` runs a sync ``on_issue`` hook (see
        :func:`~rollout_middleware.config.as_async`)."""
        self.settings = settings
        self.issuer = settings.issuer
        #: The configuration errors already logged (see :meth:`resolver_failed`): each is logged
        #: once, not on every request. The only thing an instance learns from requests.
        self._misconfigurations_logged: set[str] = set()
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
        token_methods = ", ".join(sorted(settings.methods - {"HEAD"}))
        self._preflight = (
            ("Access-Control-Allow-Methods", token_methods),
            ("Access-Control-Max-Age", _PREFLIGHT_MAX_AGE),
        )
        hook, hook_is_async = settings.on_issue, settings.on_issue_is_async
        self._on_issue_sync = None if hook is None else as_sync(hook, hook_is_async)
        self._on_issue_async = (
            None
            if hook is None
            else as_async(hook, hook_is_async, thread_sensitive=thread_sensitive)
        )

    @classmethod
    def build(cls, *, path: str | None = None, **options: Unpack[AnswerOptions]) -> TokenDecision:
        """A decision from the answer options, checked now (a wrong one raises
        :class:`~rollout_middleware.errors.ConfigurationError`).

        ``path`` is ``None`` (the default) where the framework's router already chose the request;
        give the token path only if the adapter asks :meth:`owns`.
        """
        return cls(Settings.build(path=path, owner="TokenDecision.build", **options))

    def owns(self, path: str, mount: str | None = None) -> bool:
        """Whether ``path`` is the token path: an exact match, relative to the mount point.

        ``mount`` is the mount point (ASGI ``root_path``) when ``path`` still includes it; it is
        stripped at a ``/`` boundary. No trailing-slash guessing: ``/rollout-token/`` is another path.
        """
        if self.settings.path is None:
            return True
        if mount and path.startswith(mount):
            rest = path[len(mount) :]
            if not rest or rest.startswith("/"):  # the mount itself, or below it: not /mount-x
                path = rest
        return path == self.settings.path

    def cors_headers(self, headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The CORS headers for the request's ``Origin``: none unless it is in ``allowed_origins``.

        Every :class:`Answer` of the decision carries them already. An adapter adds them only to
        an answer its framework renders itself (FastAPI's rendering of an ``HTTPException`` that
        the user dependency raised), so a front end on an allowed origin can read that answer too.
        """
        return self._cors(headers.get("origin")) if self.settings.allowed_origins else ()

    def _cors(self, origin: str | None) -> tuple[tuple[str, str], ...]:
        if origin is None or origin.lower() not in self.settings.allowed_origins:
            return ()
        return (
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        )

    def precheck(
        self, method: str, headers: Mapping[str, str], content_length: int | None = None
    ) -> Answer | None:
        """The answer that ends the request before the user is looked up, or ``None`` to go on.

        ``headers`` maps lower-case names from :data:`HEADER_NAMES` to their values.
        ``content_length`` is the body's declared length where the framework reads the body
        itself: over ``max_body_size`` it is a 413. (The ASGI and WSGI shells read and count the
        body themselves, and give none.)
        """
        head = method == "HEAD"
        cors = self._cors(headers.get("origin")) if self.settings.allowed_origins else ()
        if (
            method == "OPTIONS"
            and self.settings.allowed_origins
            and "access-control-request-method" in headers
        ):
            if not cors:
                return self._403[False]
            extra: tuple[tuple[str, str], ...] = self._preflight
            requested = headers.get("access-control-request-headers")
            if requested and _is_header_list(requested):
                extra = (*extra, ("Access-Control-Allow-Headers", requested))
            return Answer.make(204, (*_COMMON, *cors, *extra), b"")
        if headers.get("sec-fetch-site") == "cross-site" and not cors:
            return self._403[head]
        if method not in self.settings.methods:
            return self._405[head].with_headers(cors)
        if (
            content_length is not None
            and content_length > self.settings.max_body_size
            and self.wants_body(method)
        ):
            return self._413[head].with_headers(cors)
        return None

    def answer(
        self, method: str, user_id: object, headers: Mapping[str, str]
    ) -> tuple[Answer, IssuedToken | None]:
        """The answer for the user id the resolver returned, and the token it delivers if any.

        A ``HEAD`` answer has the headers a ``GET`` would have (its ``Content-Length`` needs a real
        token's length) but no body: the token it mints is delivered to nobody, so it is neither
        logged nor returned for the ``on_issue`` hook.
        """
        head = method == "HEAD"
        cors = self._cors(headers.get("origin")) if self.settings.allowed_origins else ()
        if user_id is None:
            return self._401[head].with_headers(cors), None
        try:
            issued = self.issuer.issue(user_id)  # type: ignore[arg-type]
        except InvalidUserIdError as exc:
            logger.error("The resolver returned an invalid Rollout user id: %s", exc)
            return self._500[head].with_headers(cors), None
        body = b'{"token":"%s","expires_at":%d,"expires_in":%d}' % (
            issued.token.encode("ascii"),
            issued.expires_at,
            issued.expires_in,
        )
        if head:
            return Answer.make(200, _JSON + cors, body, head=True), None
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Issued a Rollout token for user %r, expiring at %d",
                issued.subject,
                issued.expires_at,
            )
        return Answer.make(200, _JSON + cors, body), issued

    def respond(
        self, method: str, user_id: object, headers: Mapping[str, str], info: RequestInfo
    ) -> Answer:
        """:meth:`answer`, then ``on_issue`` for a delivered token, on this thread.

        For adapters that run on a request thread (WSGI, Django, Flask). An async hook runs
        through :func:`asgiref.sync.async_to_sync`; a failing hook is logged, never raised.
        """
        answer, issued = self.answer(method, user_id, headers)
        if issued is not None and self._on_issue_sync is not None:
            try:
                self._on_issue_sync(issued.subject, issued.expires_at, info)
            except Exception:
                self.hook_failed()
        return answer

    async def respond_async(
        self,
        method: str,
        user_id: object,
        headers: Mapping[str, str],
        info: RequestInfo,
    ) -> Answer:
        """:meth:`answer`, then ``on_issue`` for a delivered token, awaited.

        For adapters on an event loop (ASGI, aiohttp, Tornado, FastAPI). A sync hook runs in a
        worker thread (see :func:`~rollout_middleware.config.as_async`; ``thread_sensitive`` as
        the decision was built), never on the loop.
        """
        answer, issued = self.answer(method, user_id, headers)
        if issued is not None and self._on_issue_async is not None:
            try:
                await self._on_issue_async(issued.subject, issued.expires_at, info)
            except ConfigurationError as exc:
                self._misconfigured(
                    "on_issue hook", exc, "Tokens are served, but the hook does not run"
                )
            except Exception:
                self.hook_failed()
        return answer

    def resolver_failed(self, method: str, headers: Mapping[str, str]) -> Answer:
        """Log the resolver's exception (call it from the ``except`` block) and answer 500.

        A :class:`~rollout_middleware.errors.ConfigurationError` is a mistake in the wiring that
        only a request can show (``session_user`` with no session middleware before it,
        ``thread_sensitive=True`` on trio): its message says how to fix it, and it is logged once,
        with no traceback, rather than on every request.
        """
        exc = sys.exc_info()[1]
        if isinstance(exc, ConfigurationError):
            self._misconfigured("user resolver", exc, "Every request for a token fails with 500")
        else:
            logger.exception("The Rollout user resolver raised an exception")
        return self._500[method == "HEAD"].with_headers(self._cors(headers.get("origin")))

    def _misconfigured(self, what: str, exc: ConfigurationError, consequence: str) -> None:
        message = f"(its {what} raised): {exc}. {consequence}"
        if message in self._misconfigurations_logged:
            return
        self._misconfigurations_logged.add(message)
        logger.error(
            "The Rollout token endpoint is misconfigured %s until this is fixed; this is logged once.",
            message,
        )

    def resolver_timed_out(
        self, method: str, headers: Mapping[str, str], timeout: float | None
    ) -> Answer:
        """Log that the resolver took longer than ``timeout`` seconds, and answer 503."""
        logger.error("The Rollout user resolver took longer than %s seconds", timeout)
        return self._503[method == "HEAD"].with_headers(self._cors(headers.get("origin")))

    def body_too_large(self, method: str, headers: Mapping[str, str]) -> Answer:
        """Answer 413: the request body exceeds ``max_body_size``."""
        return self._413[method == "HEAD"].with_headers(self._cors(headers.get("origin")))

    def wants_body(self, method: str) -> bool:
        """Whether a request with ``method`` may carry a body the shell must read and discard."""
        return method not in ("GET", "HEAD")

    @staticmethod
    def hook_failed() -> None:
        """Log the ``on_issue`` hook's exception (call it from the ``except`` block)."""
        logger.exception("The Rollout on_issue hook raised an exception; the token was served")


def _is_header_list(value: str) -> bool:
    return all(
        part.strip() and all(c.isalnum() or c in "-_" for c in part.strip())
        for part in value.split(",")
    )
