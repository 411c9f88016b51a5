"""Call Rollout's API from Python, as one of your users."""

from __future__ import annotations

import datetime
import email.utils
import random
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import Any

import anyio

from ._config import RULES, Credentials
from .errors import ConfigurationError, RolloutError
from .tokens import (
    IssuedToken,
    TokenIssuer,
    user_id_to_subject,
)

try:
    import httpx
except ImportError as exc:  # pragma: no cover - the extra is installed wherever this is tested
    raise ImportError(
        "rollout_middleware.client needs httpx: pip install 'rollout-middleware[httpx]'"
    ) from exc

__all__ = [
    "CALENDAR_API",
    "CREDENTIALS_API",
    "CREDENTIAL_ID_HEADER",
    "CRM_API",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_REFRESH_MARGIN",
    "EMAIL_API",
    "LOS_API",
    "MORTGAGE_CRM_API",
    "TMS_API",
    "PaginationError",
    "Retry",
    "RolloutAPIError",
    "RolloutAuth",
    "RolloutDataNotReady",
    "apaginate",
    "async_rollout_client",
    "paginate",
    "rollout_client",
]

#: Rollout's credentials API (connected accounts of a user): ``/credentials``, ``/connectors``.
CREDENTIALS_API = "https://universal.rollout.com/api"
#: Rollout's universal CRM API.
CRM_API = "https://crm.universal.rollout.com/api"
#: Rollout's universal TMS (transaction management) API.
TMS_API = "https://tms.universal.rollout.com/api"
#: Rollout's universal email API.
EMAIL_API = "https://email.universal.rollout.com/api"
#: Rollout's universal LOS (loan origination system) API.
LOS_API = "https://los.universal.rollout.com/api"
#: Rollout's universal calendar API.
CALENDAR_API = "https://calendar.universal.rollout.com/api"
#: Rollout's universal mortgage CRM API.
MORTGAGE_CRM_API = "https://mortgage-crm.universal.rollout.com/api"
DEFAULT_BASE_URL = CREDENTIALS_API
#: The header naming the connected account (credential) a data API call acts on.
CREDENTIAL_ID_HEADER = "X-Rollout-Credential-Id"
#: Seconds before ``exp`` at which a token is no longer sent, but replaced.
DEFAULT_REFRESH_MARGIN = 60.0
#: How many pages :func:`paginate` fetches at most, unless told otherwise.
DEFAULT_MAX_PAGES = 1000

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRIED_5XX = frozenset({500, 502, 503, 504})
_TOO_MANY_REQUESTS = 429
_DATA_NOT_READY = 409


# -- errors ----------------------------------------------------------------------------------------


class RolloutAPIError(RolloutError):
    """Rollout's API answered ``status`` (>= 400) with ``message``; ``response`` is that answer."""

    def __init__(self, status: int, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.response = response

    def __str__(self) -> str:
        return f"Rollout API error {self.status}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"

    @classmethod
    def from_response(cls, response: httpx.Response) -> RolloutAPIError:
        """The error for a read ``response``: :class:`RolloutDataNotReady` for a 409."""
        kind = RolloutDataNotReady if response.status_code == _DATA_NOT_READY else RolloutAPIError
        return kind(response.status_code, _error_message(response), response)


class RolloutDataNotReady(RolloutAPIError):
    """409: Rollout has not synced this credential's data yet."""


class PaginationError(RolloutError):
    """A list endpoint answered something that is not a page, or more pages than allowed."""


def _error_message(response: httpx.Response) -> str:
    """Rollout's message, from whichever error shape the body has; never the request's token."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = response.reason_phrase or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(body.get("errorMessage"), str):
            message = body["errorMessage"]
        elif isinstance(errors, list) and errors:
            texts = [e["message"] for e in errors if isinstance(e, dict) and "message" in e]
            message = "; ".join(str(text) for text in texts) or message
        elif isinstance(body.get("error"), str):
            message = body["error"]
    _, _, token = response.request.headers.get("authorization", "").partition(" ")
    return message.replace(token.strip(), "[token]") if token.strip() else message


# -- retries ---------------------------------------------------------------------------------------


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Retry:
    """When and how long the clients wait and try again; ``retry=None`` turns retrying off."""

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 30.0
    wait_for_data: float = 0.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=anyio.sleep, repr=False, compare=False
    )
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or self.attempts < 1
        ):
            raise ConfigurationError(
                f"attempts must be a whole number, 1 or more: {self.attempts!r}"
            )
        for name in ("backoff", "max_backoff", "max_wait", "wait_for_data"):
            if not _positive(getattr(self, name)):
                raise ConfigurationError(f"{name} must be a number, 0 or more")
        if not 0 < self.backoff <= self.max_backoff:
            raise ConfigurationError("backoff must be more than 0 and at most max_backoff")

    def _step(self, n: int) -> float:
        return float(min(self.max_backoff, self.backoff * 2**n))


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (from seconds or an HTTP date), or ``None`` if absent or bad."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())


class _Tries:
    """The retry state of one request: how often and how long it has waited so far."""

    def __init__(self, retry: Retry) -> None:
        self.retry = retry
        self.tries = 1
        self.waited = 0.0
        self.data_polls = 0
        self.data_waited = 0.0

    def delay(self, method: str, response: httpx.Response) -> float | None:
        """Seconds to wait before sending the request again, or ``None``: answer ``response``."""
        retry, status = self.retry, response.status_code
        asked = _retry_after(response)
        if status == _DATA_NOT_READY:
            left = retry.wait_for_data - self.data_waited
            wait = retry._step(self.data_polls) if asked is None else asked
            if retry.wait_for_data <= 0 or wait > left:
                return None
            self.data_polls += 1
            self.data_waited += wait
            return wait
        retried = status == _TOO_MANY_REQUESTS or (status in _RETRIED_5XX and method in _IDEMPOTENT)
        if not retried or self.tries >= retry.attempts:
            return None
        left = retry.max_wait - self.waited
        if asked is None:
            if left <= 0:
                return None
            wait = min(left, retry.random() * retry._step(self.tries - 1))
        elif asked > left:
            return None
        else:
            wait = asked
        self.tries += 1
        self.waited += wait
        return wait


# -- authentication --------------------------------------------------------------------------------

#: What a flow yields: a request to send, or seconds to sleep first.
_Step = httpx.Request | float


class RolloutAuth(httpx.Auth):
    """Sign httpx requests as ``user_id`` with a Rollout auth token."""

    requires_request_body = True

    def __init__(
        self,
        user_id: str | int,
        *,
        issuer: TokenIssuer | None = None,
        client_id: str | None = None,
        client_secret: str | bytes | None = None,
        ttl: int | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        environ: Mapping[str, str] | None = None,
        retry: Retry | None = None,
        raise_errors: bool = False,
    ) -> None:
        issuer = Credentials(
            RULES["issuer"](issuer), client_id, client_secret, ttl, environ
        ).issuer()  # the configuration path every entry point takes
        if (
            isinstance(refresh_margin, bool)
            or not isinstance(refresh_margin, (int, float))
            or not 0 <= refresh_margin < issuer.ttl
        ):
            raise ConfigurationError(
                f"refresh_margin must be from 0 to less than the token lifetime ({issuer.ttl} s), "
                f"got {refresh_margin!r}"
            )
        if retry is not None and not isinstance(retry, Retry):
            raise ConfigurationError(f"retry must be a Retry or None, got {type(retry).__name__}")
        self.subject = user_id_to_subject(user_id)
        self.issuer = issuer
        self.refresh_margin = float(refresh_margin)
        self.retry = retry
        self.raise_errors = bool(raise_errors)
        # The issuer's own clock: the one that set the token's iat and exp (package-internal).
        self._clock: Callable[[], float] = issuer._clock
        self._lock = threading.Lock()
        self._current: IssuedToken | None = None
        self._generation = 0

    def __repr__(self) -> str:
        return (
            f"RolloutAuth(subject={self.subject!r}, issuer={self.issuer!r}, "
            f"refresh_margin={self.refresh_margin:g})"
        )

    def token(self) -> str:
        """The token to send now: the current one, or a new one if it is close to expiry."""
        return self._token()[1]

    def _token(self, refused: int | None = None) -> tuple[int, str]:
        """The current token and its generation; replace it first if needed."""
        with self._lock:
            current = self._current
            if (
                current is None
                or refused == self._generation
                or self._clock() >= current.expires_at - self.refresh_margin
            ):
                current = self._current = self.issuer.issue(self.subject)
                self._generation += 1
            return self._generation, current.token

    def _signed(self, request: httpx.Request) -> Generator[_Step, httpx.Response, httpx.Response]:
        """Send ``request`` with the current token; after a 401, once more with a fresh one."""
        generation, token = self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            _, token = self._token(refused=generation)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
        return response

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send ``request`` with the current token; after a 401, once more with a fresh one."""
        yield from self._signed(request)  # type: ignore[misc]  # _signed yields requests only

    def _flow(self, request: httpx.Request) -> Generator[_Step, httpx.Response, None]:
        """:meth:`auth_flow`, repeated after a wait as :attr:`retry` says; then raise if told to."""
        tries = None if self.retry is None else _Tries(self.retry)
        while True:
            response = yield from self._signed(request)
            wait = None if tries is None else tries.delay(request.method, response)
            if wait is None:
                break
            yield wait
        if self.raise_errors and response.is_error:
            raise RolloutAPIError.from_response(response)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, httpx.Request):
                response = yield step
                if response.is_error:
                    response.read()  # its message, and a connection free for the retry
            else:
                assert self.retry is not None
                self.retry.sleep(step)
            try:
                step = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, httpx.Request):
                response = yield step
                if response.is_error:
                    await response.aread()
            else:
                assert self.retry is not None
                await self.retry.async_sleep(step)
            try:
                step = flow.send(response)
            except StopIteration:
                return


# -- clients ---------------------------------------------------------------------------------------


def _client_options(
    user_id: str | int,
    base_url: str,
    issuer: TokenIssuer | None,
    refresh_margin: float,
    credential_id: str | None,
    retry: Retry | None,
    raise_errors: bool,
    client_options: dict[str, Any],
) -> dict[str, Any]:
    auth = RolloutAuth(
        user_id,
        issuer=issuer,
        refresh_margin=refresh_margin,
        retry=retry,
        raise_errors=raise_errors,
    )
    headers = httpx.Headers(client_options.pop("headers", None))
    if credential_id is not None:
        if not isinstance(credential_id, str) or not credential_id.strip():
            raise ConfigurationError("credential_id must be a non-empty string")
        headers[CREDENTIAL_ID_HEADER] = credential_id
    return {"base_url": base_url, "auth": auth, "headers": headers, **client_options}


def rollout_client(
    user_id: str | int,
    *,
    base_url: str = DEFAULT_BASE_URL,
    issuer: TokenIssuer | None = None,
    refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    credential_id: str | None = None,
    retry: Retry | None = Retry(),
    raise_errors: bool = True,
    **client_options: Any,
) -> httpx.Client:
    """An :class:`httpx.Client` on ``base_url`` (the credentials API by default) acting as ``user_id``."""
    return httpx.Client(
        **_client_options(
            user_id,
            base_url,
            issuer,
            refresh_margin,
            credential_id,
            retry,
            raise_errors,
            client_options,
        )
    )


def async_rollout_client(
    user_id: str | int,
    *,
    base_url: str = DEFAULT_BASE_URL,
    issuer: TokenIssuer | None = None,
    refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    credential_id: str | None = None,
    retry: Retry | None = Retry(),
    raise_errors: bool = True,
    **client_options: Any,
) -> httpx.AsyncClient:
    """The :class:`httpx.AsyncClient` twin of :func:`rollout_client`."""
    return httpx.AsyncClient(
        **_client_options(
            user_id,
            base_url,
            issuer,
            refresh_margin,
            credential_id,
            retry,
            raise_errors,
            client_options,
        )
    )


# -- pagination ------------------------------------------------------------------------------------


def _query(params: Mapping[str, Any] | None, limit: int, max_pages: int) -> dict[str, Any]:
    for name, value in (("limit", limit), ("max_pages", max_pages)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number, 1 or more: {value!r}")
    return {**(params or {}), "limit": limit}


def _page(path: str, response: httpx.Response) -> tuple[list[Any], str | None]:
    """The items of one page, and the ``next`` cursor (``None`` on the last page)."""
    if response.is_error:
        raise RolloutAPIError.from_response(response)
    body = response.json()
    if isinstance(body, list):
        return body, None
    metadata = body.get("_metadata") if isinstance(body, dict) else None
    collection = metadata.get("collection") if isinstance(metadata, dict) else None
    items = body.get(collection) if isinstance(collection, str) else None
    if not isinstance(metadata, dict) or not isinstance(items, list):
        raise PaginationError(f"{path}: not a page (a JSON array, or _metadata.collection's list)")
    return items, metadata.get("next") or None


def _too_many(path: str, max_pages: int) -> PaginationError:
    return PaginationError(f"{path} has more than max_pages={max_pages} pages")


def paginate(
    client: httpx.Client,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    limit: int = 100,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Iterator[Any]:
    """Yield the items of every page of ``GET path``, following ``_metadata.next``."""
    query = _query(params, limit, max_pages)
    for _ in range(max_pages):
        items, cursor = _page(path, client.get(path, params=query))
        yield from items
        if cursor is None:
            return
        query["next"] = cursor
    raise _too_many(path, max_pages)


async def apaginate(
    client: httpx.AsyncClient,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    limit: int = 100,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> AsyncIterator[Any]:
    """The async twin of :func:`paginate`."""
    query = _query(params, limit, max_pages)
    for _ in range(max_pages):
        items, cursor = _page(path, await client.get(path, params=query))
        for item in items:
            yield item
        if cursor is None:
            return
        query["next"] = cursor
    raise _too_many(path, max_pages)
