"""Token issuing: claims, byte identity with PyJWT, user ids, configuration and the secret."""

from __future__ import annotations

import logging
import uuid
import warnings

import jwt
import pytest

from rollout_middleware import ConfigurationError, InvalidUserIdError, TokenIssuer, generate_token
from rollout_middleware.tokens import MAX_TTL, MAX_USER_ID_LENGTH, MIN_TTL, user_id_to_subject

from .support import CLIENT_ID, SECRET, verify_token

NOW = 1_795_000_000.75


def issuer(**kwargs: object) -> TokenIssuer:
    return TokenIssuer(CLIENT_ID, SECRET, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def reference(sub: str, secret: str | bytes = SECRET, iat: int = int(NOW), ttl: int = 900) -> str:
    with warnings.catch_warnings():
        if hasattr(jwt, "InsecureKeyLengthWarning"):  # PyJWT 2.11+: short random secrets
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(
            {"iss": CLIENT_ID, "sub": sub, "iat": iat, "exp": iat + ttl}, secret, algorithm="HS512"
        )


def test_mint_has_the_guides_claims_in_order() -> None:
    token = issuer().mint("user123")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS512", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS512"], options={"verify_exp": False})
    assert claims == {
        "iss": CLIENT_ID,
        "sub": "user123",
        "iat": 1_795_000_000,
        "exp": 1_795_000_900,
    }


def test_mint_is_byte_identical_to_jwt_encode() -> None:
    for sub in (
        "user123",
        "ü-ñ",
        'quote"back\\slash',
        "\u2603\U0001f600",
        "x" * MAX_USER_ID_LENGTH,
    ):
        assert issuer().mint(sub) == reference(sub)


def test_real_clock_token_verifies_independently() -> None:
    token = TokenIssuer(CLIENT_ID, SECRET).mint("alice")
    assert verify_token(token)["sub"] == "alice"


def test_issue_returns_expiry() -> None:
    issued = issuer(ttl=60).issue(42)
    assert issued.subject == "42"
    assert issued.expires_at == 1_795_000_060
    assert issued.expires_in == 60
    assert issued.token == reference("42", ttl=60)
    assert issued.token not in repr(issued)


def test_iat_is_floor_of_clock() -> None:
    token = TokenIssuer(CLIENT_ID, SECRET, clock=lambda: -0.5).mint("u")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iat"] == -1


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [("abc", "abc"), (7, "7"), (0, "0"), (-3, "-3"), (10**30, str(10**30)), (" a ", " a ")],
)
def test_accepted_user_ids(user_id: object, expected: str) -> None:
    assert user_id_to_subject(user_id) == expected


def test_str_subclass_becomes_plain_str() -> None:
    class Name(str):
        def __str__(self) -> str:
            return "not this"

    subject = user_id_to_subject(Name("alice"))
    assert subject == "alice"
    assert type(subject) is str


class IntSub(int):
    pass


def test_int_subclass_becomes_decimal() -> None:
    assert user_id_to_subject(IntSub(5)) == "5"


@pytest.mark.parametrize(
    "user_id",
    [
        None,
        True,
        False,
        1.0,
        b"abc",
        ["a"],
        object(),
        "",
        "   ",
        "\t\n",
        "x" * (MAX_USER_ID_LENGTH + 1),
        "\ud800",
        10**300,
    ],
)
def test_rejected_user_ids(user_id: object) -> None:
    with pytest.raises(InvalidUserIdError) as info:
        issuer().mint(user_id)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("client_id", "secret", "option"),
    [
        ("", SECRET, "client_id"),
        ("  ", SECRET, "client_id"),
        (None, SECRET, "client_id"),
        (CLIENT_ID, "", "client_secret"),
        (CLIENT_ID, None, "client_secret"),
        (CLIENT_ID, 123, "client_secret"),
    ],
)
def test_a_wrong_credential_names_its_option(
    client_id: object, secret: object, option: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        TokenIssuer(client_id, secret)  # type: ignore[arg-type]
    assert caught.value.option == option


@pytest.mark.parametrize("ttl", [0, -1, MAX_TTL + 1, 1.5, "900", True, None])
def test_bad_ttl(ttl: object) -> None:
    with pytest.raises(ConfigurationError, match="ttl"):
        issuer(ttl=ttl)


@pytest.mark.parametrize("ttl", [MIN_TTL, MAX_TTL])
def test_ttl_bounds_are_inclusive(ttl: int) -> None:
    assert issuer(ttl=ttl).issue("u").expires_in == ttl


def test_bad_clock() -> None:
    with pytest.raises(ConfigurationError, match="clock"):
        TokenIssuer(CLIENT_ID, SECRET, clock=1.0)  # type: ignore[arg-type]


def test_pem_like_secret_is_a_configuration_error_without_the_secret() -> None:
    secret = "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----"
    with pytest.raises(ConfigurationError) as info:
        TokenIssuer(CLIENT_ID, secret)
    assert secret not in str(info.value)
    assert "abc" not in str(info.value)


def test_from_env() -> None:
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    token = TokenIssuer.from_env(env, clock=lambda: NOW).mint("u")
    assert token == reference("u")
    with pytest.raises(ConfigurationError, match="ROLLOUT_CLIENT_SECRET"):
        TokenIssuer.from_env({"ROLLOUT_CLIENT_ID": CLIENT_ID})


def test_generate_token_explicit_and_env() -> None:
    token = generate_token("u", client_id=CLIENT_ID, client_secret=SECRET)
    assert verify_token(token)["sub"] == "u"
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    assert verify_token(generate_token("v", environ=env, ttl=60), ttl=60)["sub"] == "v"
    with pytest.raises(ConfigurationError, match="ROLLOUT_CLIENT_ID"):
        generate_token("u", environ={})


def test_secret_never_in_repr_or_str() -> None:
    tok = issuer()
    for text in (repr(tok), str(tok)):
        assert SECRET not in text
        assert CLIENT_ID in text


def test_repr_of_a_refused_issuer_does_not_raise() -> None:
    # A traceback that shows the locals of the refusing __init__ (pytest -l, a debugger, Sentry)
    # renders ``self`` before its attributes exist.
    with pytest.raises(ConfigurationError) as info:
        TokenIssuer(CLIENT_ID, "")
    refused = info.traceback[-1].frame.f_locals["self"]
    assert repr(refused) == "TokenIssuer(<not configured>)"


@pytest.mark.parametrize("run", ["first", "again"])  # twice in one process: no state carries over
def test_short_secret_is_logged_once_and_never_warns(
    caplog: pytest.LogCaptureFixture, run: str
) -> None:
    short = "short-secret-of-rollout"
    # Logged once per client id per process: a client id of this run's own, so that the test
    # passes however often it runs in one process (pytest --count, a mutation run).
    client_id = f"short-client-{uuid.uuid4().hex}"
    caplog.set_level(logging.WARNING, logger="rollout_middleware")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = TokenIssuer(client_id, short)
        second = TokenIssuer(client_id, short)
        for tok in (first, second):
            for _ in range(3):
                verify_token(tok.mint("u"), secret=short, client_id=client_id)
    records = [r for r in caplog.records if "recommends" in r.getMessage()]
    assert len(records) == 1
    assert "23 bytes" in records[0].getMessage()
    assert short not in records[0].getMessage()


def test_bytes_secret() -> None:
    secret = bytes(range(64))
    token = TokenIssuer(CLIENT_ID, secret, clock=lambda: NOW).mint("u")
    assert token == reference("u", secret=secret)
