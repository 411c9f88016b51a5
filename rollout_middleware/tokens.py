"""Minting Rollout auth tokens.

A Rollout auth token is the JWT of Rollout's guide: HS512, signed with the app's client secret, with the
claims ``iss`` (client id), ``sub`` (the app's user id), ``iat`` (now, whole seconds) and ``exp``
(``iat`` + ttl), in that order.

:class:`TokenIssuer` prepares everything that does not change between tokens once: PyJWT's HS512
algorithm object, the prepared key, the constant header segment and the JSON text of ``iss``. A token is
then one JSON string escape, two base64url encodings and one HMAC, all by the standard library and PyJWT.
The result is byte for byte what ``jwt.encode(claims, secret, algorithm="HS512")`` returns, and for
ASCII user ids what the guide's Node ``jsonwebtoken`` code returns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii

from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import InvalidKeyError
from jwt.utils import base64url_encode

from .errors import ConfigurationError, InvalidUserIdError

__all__ = [
    "CLIENT_ID_ENV",
    "CLIENT_SECRET_ENV",
    "DEFAULT_TTL",
    "MAX_TTL",
    "MAX_USER_ID_LENGTH",
    "MIN_TTL",
    "IssuedToken",
    "TokenIssuer",
    "generate_token",
    "user_id_to_subject",
]

logger = logging.getLogger("rollout_middleware")

CLIENT_ID_ENV = "ROLLOUT_CLIENT_ID"
CLIENT_SECRET_ENV = "ROLLOUT_CLIENT_SECRET"
DEFAULT_TTL = 900
MIN_TTL = 1
MAX_TTL = 3600
MAX_USER_ID_LENGTH = 256
#: PyJWT's recommendation for an HS512 key: at least the digest size.
RECOMMENDED_SECRET_BYTES = hashlib.sha512().digest_size

_HEADER_SEGMENT = base64url_encode(
    json.dumps({"alg": "HS512", "typ": "JWT"}, separators=(",", ":"), sort_keys=True).encode()
)
_short_secret_logged: set[str] = set()


def user_id_to_subject(user_id: object) -> str:
    """Return the ``sub`` claim for ``user_id``, or raise :class:`InvalidUserIdError`.

    A user id is a non-empty ``str`` or an ``int`` (which becomes its decimal string, as PyJWT 2.10+
    rejects a non-string ``sub`` and Django's ``user.pk`` is an int). Refused: ``None``, ``bool``,
    floats and any other type; empty or whitespace-only strings; strings that are not valid Unicode
    text (lone surrogates); and ids longer than :data:`MAX_USER_ID_LENGTH` characters.
    """
    # Types are checked on type(user_id), never through isinstance() alone, which trusts a spoofed
    # __class__ (Mock(spec=int)); and the text comes from int's and str's own methods, so no code of
    # the user id's class (a raising __int__ or __str__) runs here.
    kind = type(user_id)
    if kind is str and isinstance(user_id, str):
        subject = user_id
    elif isinstance(user_id, int) and issubclass(kind, int) and not issubclass(kind, bool):
        try:
            subject = int.__repr__(user_id)
        except ValueError:  # beyond sys.get_int_max_str_digits()
            raise InvalidUserIdError(
                f"user id must be at most {MAX_USER_ID_LENGTH} characters long"
            ) from None
    elif isinstance(user_id, str) and issubclass(kind, str):  # a str subclass: its plain text
        subject = str.__str__(user_id)
    else:
        raise InvalidUserIdError(
            f"user id must be a non-empty str or an int, not {type(user_id).__name__}"
        )
    if not subject or subject.isspace():
        raise InvalidUserIdError("user id must not be empty or whitespace only")
    if len(subject) > MAX_USER_ID_LENGTH:
        raise InvalidUserIdError(f"user id must be at most {MAX_USER_ID_LENGTH} characters long")
    if not subject.isascii():
        try:
            subject.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidUserIdError("user id must be valid Unicode text") from None
    return subject


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly minted token and when it expires.

    ``token`` is left out of ``repr`` so that logging an ``IssuedToken`` never writes a credential.
    """

    token: str = field(repr=False)
    subject: str
    expires_at: int
    expires_in: int


class TokenIssuer:
    """Mints Rollout auth tokens for one client id and secret.

    ``ttl`` is the lifetime in whole seconds, from :data:`MIN_TTL` to :data:`MAX_TTL` (Rollout's guide
    uses 900). ``clock`` returns the current POSIX time; ``iat`` is its floor. Configuration errors raise
    :class:`ConfigurationError` here, at construction. The secret is kept only as PyJWT's prepared key
    and appears in no ``repr``, message or log record.
    """

    __slots__ = ("_alg", "_clock", "_iss_prefix", "_key", "client_id", "ttl")

    def __init__(
        self,
        client_id: str,
        client_secret: str | bytes,
        *,
        ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(client_id, str):
            raise ConfigurationError(
                f"the Rollout client id must be a str, got {type(client_id).__name__} "
                f"(give the client id as text, or set {CLIENT_ID_ENV})"
            )
        if not client_id.strip():
            raise ConfigurationError(
                f"the Rollout client id is missing or empty (set {CLIENT_ID_ENV})"
            )
        if not isinstance(client_secret, (str, bytes)):
            # The type only: a wrong-typed secret may still be the secret.
            raise ConfigurationError(
                f"the Rollout client secret must be a str or bytes, got "
                f"{type(client_secret).__name__} (give the secret as text, or set "
                f"{CLIENT_SECRET_ENV})"
            )
        if not client_secret:
            raise ConfigurationError(
                f"the Rollout client secret is missing or empty (set {CLIENT_SECRET_ENV})"
            )
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
            raise ConfigurationError(
                f"ttl must be a whole number of seconds from {MIN_TTL} to {MAX_TTL}, got {ttl!r}"
            )
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning POSIX seconds")
        alg = HMACAlgorithm(HMACAlgorithm.SHA512)
        try:
            key = alg.prepare_key(client_secret)
        except InvalidKeyError as exc:
            # PyJWT's message describes the key's shape, never its content.
            raise ConfigurationError(f"PyJWT refused the Rollout client secret: {exc}") from None
        self.client_id = client_id
        self.ttl = ttl
        self._alg = alg
        self._key = key
        self._clock = clock
        self._iss_prefix = '{"iss":' + encode_basestring_ascii(client_id) + ',"sub":'
        if len(key) < RECOMMENDED_SECRET_BYTES and client_id not in _short_secret_logged:
            _short_secret_logged.add(client_id)
            logger.warning(
                "The Rollout client secret for client id %r is %d bytes; PyJWT recommends at least %d "
                "for HS512. Rollout chooses the secret, so tokens are signed with it as it is. "
                "This is logged once per process.",
                client_id,
                len(key),
                RECOMMENDED_SECRET_BYTES,
            )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> TokenIssuer:
        """Build an issuer from ``ROLLOUT_CLIENT_ID`` and ``ROLLOUT_CLIENT_SECRET`` in ``environ``
        (the process environment, read now, by default)."""
        if environ is None:
            environ = os.environ
        return cls(
            environ.get(CLIENT_ID_ENV, ""),
            environ.get(CLIENT_SECRET_ENV, ""),
            ttl=ttl,
            clock=clock,
        )

    def __repr__(self) -> str:
        try:
            return f"TokenIssuer(client_id={self.client_id!r}, ttl={self.ttl})"
        except AttributeError:  # __init__ refused its arguments; tracebacks still show the object
            return "TokenIssuer(<not configured>)"

    def _sign(self, subject: str, iat: int) -> str:
        payload = f'{self._iss_prefix}{encode_basestring_ascii(subject)},"iat":{iat},"exp":{iat + self.ttl}}}'
        signing_input = _HEADER_SEGMENT + b"." + base64url_encode(payload.encode("ascii"))
        signature = base64url_encode(self._alg.sign(signing_input, self._key))
        return (signing_input + b"." + signature).decode("ascii")

    def mint(self, user_id: str | int) -> str:
        """Return a new token for ``user_id`` (see :func:`user_id_to_subject` for what is accepted)."""
        return self._sign(user_id_to_subject(user_id), math.floor(self._clock()))

    def issue(self, user_id: str | int) -> IssuedToken:
        """Mint a token for ``user_id`` and return it with its expiry."""
        subject = user_id_to_subject(user_id)
        iat = math.floor(self._clock())
        return IssuedToken(self._sign(subject, iat), subject, iat + self.ttl, self.ttl)


def generate_token(
    user_id: str | int,
    *,
    client_id: str | None = None,
    client_secret: str | bytes | None = None,
    ttl: int = DEFAULT_TTL,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Rollout's ``generateToken(userId)`` for scripts: a token for ``user_id``.

    ``client_id`` and ``client_secret`` fall back to ``ROLLOUT_CLIENT_ID`` and ``ROLLOUT_CLIENT_SECRET``
    in ``environ`` (the process environment, read now, by default). A server that mints many
    tokens should build one :class:`TokenIssuer` and keep it.
    """
    if environ is None:
        environ = os.environ
    issuer = TokenIssuer(
        environ.get(CLIENT_ID_ENV, "") if client_id is None else client_id,
        environ.get(CLIENT_SECRET_ENV, "") if client_secret is None else client_secret,
        ttl=ttl,
    )
    return issuer.mint(user_id)
