"""Call Rollout's API from Python, as one of your users.

:class:`RolloutAuth` is an :class:`httpx.Auth` (install the ``httpx`` extra) that signs each request
with ``Authorization: Bearer <token>`` for one user id. It behaves like Rollout's own front-end client:

- the token is minted once and reused until ``refresh_margin`` seconds before it expires, then
  minted again;
- when Rollout answers 401, a fresh token is minted and the request is sent once more; a second 401
  is returned to the caller as it is (no loop).

The same instance works with :class:`httpx.Client` and :class:`httpx.AsyncClient`, from many threads
and tasks at once. Its state (the current token) is guarded by a :class:`threading.Lock` that is held
only while a token is compared or minted (one HMAC, no I/O and no ``await``), so tasks on an event
loop cannot interleave inside it, and threads wait for microseconds at most.

:func:`rollout_client` and :func:`async_rollout_client` build a client for one user, with
``base_url`` set to one of Rollout's APIs (by default the credentials API)::

    from rollout_middleware.client import rollout_client

    with rollout_client("user-123") as rollout:  # ROLLOUT_CLIENT_ID / ROLLOUT_CLIENT_SECRET
        credentials = rollout.get("/credentials", params={"includeProfile": "true"})
        credentials.raise_for_status()
        for credential in credentials.json():
            print(credential["id"], credential["appKey"], credential.get("label"))
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Mapping
from typing import Any

from .errors import ConfigurationError
from .tokens import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    DEFAULT_TTL,
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
    "CREDENTIALS_API",
    "CRM_API",
    "DEFAULT_BASE_URL",
    "DEFAULT_REFRESH_MARGIN",
    "EMAIL_API",
    "TMS_API",
    "RolloutAuth",
    "async_rollout_client",
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
DEFAULT_BASE_URL = CREDENTIALS_API
#: Seconds before ``exp`` at which a token is no longer sent, but replaced.
DEFAULT_REFRESH_MARGIN = 60.0


class RolloutAuth(httpx.Auth):
    """Sign httpx requests as ``user_id`` with a Rollout auth token.

    Give either ``issuer`` (a :class:`~rollout_middleware.tokens.TokenIssuer`, whose clock is used to
    tell when a token is about to expire) or ``client_id``/``client_secret``/``ttl``, each of which
    falls back to ``ROLLOUT_CLIENT_ID``/``ROLLOUT_CLIENT_SECRET`` in ``environ`` (the process
    environment, read at construction, by default). ``refresh_margin``
    is how many seconds before its ``exp`` a token is replaced, from 0 to less than the ttl; it
    absorbs clock differences with Rollout and the time a request takes.

    The user id is checked, and the issuer built, here: a wrong configuration raises
    :class:`~rollout_middleware.errors.ConfigurationError` (or
    :class:`~rollout_middleware.errors.InvalidUserIdError`) at construction, never at a request.
    Request bodies are read into memory before sending, so that the retry after a 401 can send them
    again.
    """

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
    ) -> None:
        if issuer is None:
            if environ is None:
                environ = os.environ
            issuer = TokenIssuer(
                environ.get(CLIENT_ID_ENV, "") if client_id is None else client_id,
                environ.get(CLIENT_SECRET_ENV, "") if client_secret is None else client_secret,
                ttl=DEFAULT_TTL if ttl is None else ttl,
            )
        elif not isinstance(issuer, TokenIssuer):
            raise ConfigurationError(f"issuer must be a TokenIssuer, got {type(issuer).__name__}")
        elif client_id is not None or client_secret is not None or ttl is not None:
            raise ConfigurationError("give either issuer or client_id/client_secret/ttl, not both")
        if (
            isinstance(refresh_margin, bool)
            or not isinstance(refresh_margin, (int, float))
            or not 0 <= refresh_margin < issuer.ttl
        ):
            raise ConfigurationError(
                f"refresh_margin must be from 0 to less than the token lifetime ({issuer.ttl} s), "
                f"got {refresh_margin!r}"
            )
        self.subject = user_id_to_subject(user_id)
        self.issuer = issuer
        self.refresh_margin = float(refresh_margin)
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
        """The current token and its generation; replace it first if needed.

        ``refused`` is the generation of a token Rollout answered 401 to: if it is still the current
        one, it is replaced. If another thread or task replaced it meanwhile, that newer token is
        returned, so that a burst of 401s mints one token, not one each. (Generations, not token
        strings, are compared: two tokens minted in the same second are the same string.)
        """
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

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send ``request`` with the current token; after a 401, once more with a fresh one."""
        generation, token = self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            _, token = self._token(refused=generation)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


def rollout_client(
    user_id: str | int,
    *,
    base_url: str = DEFAULT_BASE_URL,
    issuer: TokenIssuer | None = None,
    refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    **client_options: Any,
) -> httpx.Client:
    """An :class:`httpx.Client` on ``base_url`` (the credentials API by default) acting as ``user_id``.

    ``issuer`` defaults to one built from ``ROLLOUT_CLIENT_ID``/``ROLLOUT_CLIENT_SECRET``.
    ``client_options`` go to :class:`httpx.Client` (``timeout``, ``headers``, ``transport``...).
    """
    auth = RolloutAuth(user_id, issuer=issuer, refresh_margin=refresh_margin)
    return httpx.Client(base_url=base_url, auth=auth, **client_options)


def async_rollout_client(
    user_id: str | int,
    *,
    base_url: str = DEFAULT_BASE_URL,
    issuer: TokenIssuer | None = None,
    refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    **client_options: Any,
) -> httpx.AsyncClient:
    """The :class:`httpx.AsyncClient` twin of :func:`rollout_client`."""
    auth = RolloutAuth(user_id, issuer=issuer, refresh_margin=refresh_margin)
    return httpx.AsyncClient(base_url=base_url, auth=auth, **client_options)
