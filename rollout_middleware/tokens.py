"""Minting Rollout auth tokens: HS512 JWTs with ``iss``, ``sub``, ``iat`` and ``exp``, in that order."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import time
import uuid
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
    """The ``sub`` claim for ``user_id``, or :class:`InvalidUserIdError`."""
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
    elif isinstance(user_id, str) and issubclass(kind, str):
        subject = str.__str__(user_id)
    elif kind is uuid.UUID and isinstance(user_id, uuid.UUID):
        subject = uuid.UUID.__str__(user_id)
    else:
        raise InvalidUserIdError(
            f"user id must be a non-empty str, an int or a UUID, not {type(user_id).__name__}"
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


def secret_value(secret: object) -> object:
    """``secret`` itself, or what its ``get_secret_value()`` returns (pydantic's ``SecretStr``)."""
    reveal = getattr(type(secret), "get_secret_value", None)
    return secret if reveal is None else reveal(secret)


def check_client_id(client_id: object) -> str:
    if not isinstance(client_id, str):
        raise ConfigurationError(
            f"the Rollout client id must be a str, got {type(client_id).__name__}",
            option="client_id",
        )
    if not client_id.strip():
        raise ConfigurationError("the Rollout client id is empty", option="client_id")
    return client_id


def check_secret_type(client_secret: object) -> object:
    """Refuse a secret of the wrong type, naming the type only (it may still be the secret)."""
    if not isinstance(secret_value(client_secret), (str, bytes)):
        raise ConfigurationError(
            "the Rollout client secret must be a str, bytes or a SecretStr, got "
            f"{type(client_secret).__name__}",
            option="client_secret",
        )
    return client_secret


def check_ttl(ttl: object) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
        raise ConfigurationError(
            f"ttl must be a whole number of seconds from {MIN_TTL} to {MAX_TTL}, got {ttl!r}",
            option="ttl",
        )
    return ttl


class Secret:
    """A client secret as PyJWT's prepared HS512 key; it shows in no ``repr``."""

    __slots__ = ("_key",)

    def __init__(self, secret: object) -> None:
        check_secret_type(secret)
        try:
            self._key = HMACAlgorithm(HMACAlgorithm.SHA512).prepare_key(secret_value(secret))  # type: ignore[arg-type]
        except InvalidKeyError as exc:  # PyJWT describes the key's shape, never its content
            raise ConfigurationError(
                f"PyJWT refused the Rollout client secret: {exc}", option="client_secret"
            ) from None

    def get_secret_value(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return "Secret('**********')"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly minted token and when it expires; ``token`` is left out of ``repr``."""

    token: str = field(repr=False)
    subject: str
    expires_at: int
    expires_in: int


class TokenIssuer:
    """Mints Rollout auth tokens for one client id and secret."""

    __slots__ = ("_clock", "_hmac", "_iss_prefix", "_own_issue", "client_id", "ttl")

    def __init__(
        self,
        client_id: str,
        client_secret: object,
        *,
        ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_client_id(client_id)
        check_secret_type(client_secret)
        secret = secret_value(client_secret)
        if not secret:
            raise ConfigurationError("the Rollout client secret is empty", option="client_secret")
        check_ttl(ttl)
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning POSIX seconds")
        key = Secret(secret).get_secret_value()
        self.client_id = client_id
        self.ttl = ttl
        #: PyJWT's HS512 signature is ``hmac.new(key, msg, sha512).digest()``: the keyed state is
        #: made once here, and copied for each token (the standard library's ``HMAC.copy``).
        self._hmac = hmac.new(key, digestmod=hashlib.sha512)
        self._clock = clock
        #: Whether ``issue`` is this class's: a subclass's own (that counts, audits) is honoured.
        self._own_issue = type(self).issue is TokenIssuer.issue
        self._iss_prefix = '{"iss":' + encode_basestring_ascii(client_id) + ',"sub":'
        if len(key) < RECOMMENDED_SECRET_BYTES and client_id not in _short_secret_logged:
            _short_secret_logged.add(client_id)
            logger.warning(
                "The Rollout client secret for client id %r is %d bytes; PyJWT recommends at least %d "
                "for HS512. Rollout chooses the secret, so tokens are signed with it as it is. "
                "This is logged once per client id.",
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
        """An issuer from ``ROLLOUT_CLIENT_ID``/``ROLLOUT_CLIENT_SECRET`` (``os.environ``, read now)."""
        return cls(*credentials(None, None, environ), ttl=ttl, clock=clock)

    def __repr__(self) -> str:
        try:
            return f"TokenIssuer(client_id={self.client_id!r}, ttl={self.ttl})"
        except AttributeError:  # __init__ refused its arguments; tracebacks still show the object
            return "TokenIssuer(<not configured>)"

    def _sign(self, subject: str, iat: int) -> str:
        payload = f'{self._iss_prefix}{encode_basestring_ascii(subject)},"iat":{iat},"exp":{iat + self.ttl}}}'
        signing_input = _HEADER_SEGMENT + b"." + base64url_encode(payload.encode("ascii"))
        keyed = self._hmac.copy()
        keyed.update(signing_input)
        signature = base64url_encode(keyed.digest())
        return (signing_input + b"." + signature).decode("ascii")

    def mint(self, user_id: object) -> str:
        """A new token for ``user_id`` (see :func:`user_id_to_subject`)."""
        return self._sign(user_id_to_subject(user_id), math.floor(self._clock()))

    def issue(self, user_id: object) -> IssuedToken:
        """A new token for ``user_id``, with its expiry."""
        return IssuedToken(*self._values(user_id))

    def issue_values(self, user_id: object) -> tuple[str, str, int, int]:
        """:meth:`issue`'s fields as a tuple, ``(token, subject, expires_at, expires_in)``: what a
        hot path uses, without making an object (a frozen dataclass costs a tenth of a token). A
        subclass that overrides :meth:`issue` has it called here too."""
        if self._own_issue:
            return self._values(user_id)
        issued = self.issue(user_id)
        return issued.token, issued.subject, issued.expires_at, issued.expires_in

    def _values(self, user_id: object) -> tuple[str, str, int, int]:
        subject = user_id_to_subject(user_id)
        iat = math.floor(self._clock())
        return self._sign(subject, iat), subject, iat + self.ttl, self.ttl


def credentials(
    client_id: object, client_secret: object, environ: Mapping[str, str] | None = None
) -> tuple[str, object]:
    """The client id and secret: each given one, else its environment variable (read now)."""
    env = os.environ if environ is None else environ
    if client_id is None or client_id == "":
        client_id = env.get(CLIENT_ID_ENV, "")
    if client_secret is None or secret_value(client_secret) in ("", b""):
        client_secret = env.get(CLIENT_SECRET_ENV, "")
    missing = [
        name
        for name, value in ((CLIENT_ID_ENV, client_id), (CLIENT_SECRET_ENV, client_secret))
        if isinstance(value, str) and not value.strip()
    ]
    if missing:
        raise ConfigurationError(
            f"the Rollout credentials are missing: set {' and '.join(missing)}",
            option="client_id" if CLIENT_ID_ENV in missing else "client_secret",
        )
    return client_id, client_secret  # type: ignore[return-value]


def generate_token(
    user_id: object,
    *,
    client_id: str | None = None,
    client_secret: object = None,
    ttl: int = DEFAULT_TTL,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Rollout's ``generateToken(userId)`` for scripts; credentials default to the environment."""
    return TokenIssuer(*credentials(client_id, client_secret, environ), ttl=ttl).mint(user_id)
