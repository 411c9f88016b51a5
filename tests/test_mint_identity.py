"""The mint is byte for byte ``jwt.encode`` of the guide's four claims, over random inputs.

``TokenIssuer`` signs with PyJWT's own HS512 algorithm object and base64url helper but builds the
JSON itself, once per token; this property test is what allows that shortcut.
"""

from __future__ import annotations

import math
import warnings

import jwt
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import InvalidKeyError

from rollout_middleware.tokens import MAX_TTL, MAX_USER_ID_LENGTH, MIN_TTL, TokenIssuer

# Valid Unicode text (no lone surrogates), with plenty of non-ASCII, quotes, backslashes, controls.
TEXT = st.characters(codec="utf-8")
user_ids = st.one_of(
    st.text(TEXT, min_size=1, max_size=MAX_USER_ID_LENGTH).filter(lambda s: not s.isspace()),
    st.integers(min_value=-(10**30), max_value=10**30),
)
client_ids = st.text(TEXT, min_size=1, max_size=80).filter(lambda s: bool(s.strip()))
secrets = st.one_of(st.text(TEXT, min_size=1, max_size=128), st.binary(min_size=1, max_size=128))
clocks = st.floats(min_value=0, max_value=2**33, allow_nan=False, allow_infinity=False)
ttls = st.integers(min_value=MIN_TTL, max_value=MAX_TTL)


def pyjwt_accepts(secret: str | bytes) -> bool:
    """PyJWT refuses HMAC secrets that look like PEM, SSH, DER or JWK keys; so does the issuer."""
    try:
        HMACAlgorithm(HMACAlgorithm.SHA512).prepare_key(secret)
    except InvalidKeyError:
        return False
    return True


def reference(client_id: str, subject: str, iat: int, ttl: int, secret: str | bytes) -> str:
    """Rollout's guide with PyJWT: ``jwt.encode`` of iss, sub, iat, exp, in that order."""
    with warnings.catch_warnings():
        if hasattr(jwt, "InsecureKeyLengthWarning"):  # PyJWT 2.11+: short random secrets
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(
            {"iss": client_id, "sub": subject, "iat": iat, "exp": iat + ttl},
            secret,
            algorithm="HS512",
        )


@settings(max_examples=200, deadline=None)
@given(user_id=user_ids, client_id=client_ids, secret=secrets, now=clocks, ttl=ttls)
def test_mint_is_jwt_encode(
    user_id: str | int, client_id: str, secret: str | bytes, now: float, ttl: int
) -> None:
    assume(pyjwt_accepts(secret))
    issuer = TokenIssuer(client_id, secret, ttl=ttl, clock=lambda: now)
    subject = str(user_id)
    iat = math.floor(now)
    expected = reference(client_id, subject, iat, ttl, secret)

    assert issuer.mint(user_id) == expected
    assert issuer._sign(subject, iat) == expected
    issued = issuer.issue(user_id)
    assert (issued.token, issued.subject, issued.expires_at) == (expected, subject, iat + ttl)


def test_a_wrong_secret_gives_a_different_token() -> None:
    """The comparison above can fail: the same claims under another secret differ."""
    issuer = TokenIssuer("client", "secret-a" * 8, clock=lambda: 1_700_000_000.5)
    assert issuer.mint("u") != reference("client", "u", 1_700_000_000, 900, "secret-b" * 8)
    assert issuer.mint("u") == reference("client", "u", 1_700_000_000, 900, "secret-a" * 8)
