"""Configuration errors say what was wrong: the option, what was given, what is accepted.

A wrong type is not "missing"; an unknown keyword names the class the user called and the nearest
option; a secret of the wrong type is described by its type, never its value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rollout_middleware import (
    ConfigurationError,
    RolloutTokenEndpoint,
    RolloutTokenMiddleware,
    RolloutTokenWSGIEndpoint,
    RolloutTokenWSGIMiddleware,
    TokenDecision,
    TokenIssuer,
)
from rollout_middleware.tokens import generate_token
from tests.support import CLIENT_ID, SECRET

SECRET_NUMBER = 987654321987654321


async def nobody(scope: Any) -> None:
    return None


def _app(*args: Any) -> None:  # never called
    raise AssertionError


#: Every public constructor or function that takes the options as ``**options``, by the name a
#: user wrote.
TAKES_OPTIONS: dict[str, Callable[..., object]] = {
    "RolloutTokenMiddleware": lambda **kw: RolloutTokenMiddleware(_app, resolve_user=nobody, **kw),
    "RolloutTokenEndpoint": lambda **kw: RolloutTokenEndpoint(resolve_user=nobody, **kw),
    "RolloutTokenWSGIMiddleware": lambda **kw: RolloutTokenWSGIMiddleware(
        _app, resolve_user=nobody, **kw
    ),
    "RolloutTokenWSGIEndpoint": lambda **kw: RolloutTokenWSGIEndpoint(resolve_user=nobody, **kw),
    "TokenDecision.build": lambda **kw: TokenDecision.build(**kw),
}


@pytest.mark.parametrize("owner", TAKES_OPTIONS)
def test_an_unknown_keyword_names_the_class_called_and_the_nearest_option(owner: str) -> None:
    build = TAKES_OPTIONS[owner]
    with pytest.raises(TypeError) as caught:
        build(client_id=CLIENT_ID, client_secret=SECRET, ttl_seconds=900)
    message = str(caught.value)
    assert message.startswith(f"{owner}() got an unexpected keyword argument 'ttl_seconds'")
    assert "did you mean 'ttl'?" in message
    assert SECRET not in message


@pytest.mark.parametrize("owner", TAKES_OPTIONS)
def test_an_unknown_keyword_with_no_near_option_lists_them(owner: str) -> None:
    with pytest.raises(TypeError, match=r"; it takes .*allowed_origins.*max_body_size"):
        TAKES_OPTIONS[owner](client_id=CLIENT_ID, client_secret=SECRET, zzzzzz=1)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            {"client_id": 12345, "client_secret": SECRET},
            "the Rollout client id must be a str, got int",
        ),
        (
            {"client_id": b"test-client", "client_secret": SECRET},
            "the Rollout client id must be a str, got bytes",
        ),
        (
            {"client_id": CLIENT_ID, "client_secret": SECRET_NUMBER},
            "the Rollout client secret must be a str, bytes or a SecretStr, got int",
        ),
        (
            {"client_id": CLIENT_ID, "client_secret": bytearray(b"x" * 64)},
            "the Rollout client secret must be a str, bytes or a SecretStr, got bytearray",
        ),
    ],
    ids=["id-int", "id-bytes", "secret-int", "secret-bytearray"],
)
def test_a_wrong_type_is_named_not_reported_missing(options: dict[str, Any], said: str) -> None:
    for build in (
        lambda: TokenIssuer(options["client_id"], options["client_secret"]),
        lambda: TokenDecision.build(**options),
        lambda: generate_token("user", **options),
    ):
        with pytest.raises(ConfigurationError) as caught:
            build()
        message = str(caught.value)
        assert said in message
        assert "missing" not in message
        assert str(SECRET_NUMBER) not in message
        assert "xxxxxxxx" not in message


@pytest.mark.parametrize(("client_id", "secret"), [("", SECRET), ("  ", SECRET), (CLIENT_ID, "")])
def test_an_empty_credential_is_refused_by_the_issuer_naming_the_option(
    client_id: str, secret: str
) -> None:
    option = "client_id" if not client_id.strip() else "client_secret"
    with pytest.raises(ConfigurationError, match="is empty") as caught:
        TokenIssuer(client_id, secret)
    assert caught.value.option == option


def test_a_wrong_on_issue_says_what_it_got() -> None:
    with pytest.raises(
        ConfigurationError, match=r"on_issue must be a callable .* or None, got str"
    ):
        TokenDecision.build(client_id=CLIENT_ID, client_secret=SECRET, on_issue="audit")  # type: ignore[typeddict-item]


# --- The same errors through Django's and Flask's settings ----------------------------------------


def test_django_secret_setting_of_the_wrong_type() -> None:
    from tests.django_project.testing import ensure_django

    ensure_django()
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from rollout_middleware.contrib.django import RolloutTokenView

    with (
        override_settings(ROLLOUT_CLIENT_SECRET=SECRET_NUMBER),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        RolloutTokenView()
    message = str(caught.value)
    assert "ROLLOUT_CLIENT_SECRET" in message
    assert "must be a str, bytes or a SecretStr, got int" in message
    assert "missing" not in message
    assert str(SECRET_NUMBER) not in message
    with override_settings(ROLLOUT_CLIENT_ID=12345), pytest.raises(ImproperlyConfigured) as caught:
        RolloutTokenView()
    assert "the Rollout client id must be a str, got int" in str(caught.value)


def test_flask_config_of_the_wrong_type(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import Flask

    from rollout_middleware.contrib.flask import RolloutToken

    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    app = Flask(__name__)
    app.config.update(ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SECRET_NUMBER)
    with pytest.raises(ConfigurationError) as caught:
        RolloutToken(app, resolve_user=lambda: None)
    message = str(caught.value)
    assert "the Rollout client secret must be a str, bytes or a SecretStr, got int" in message
    assert str(SECRET_NUMBER) not in message
    app = Flask(__name__)
    app.config.update(ROLLOUT_CLIENT_ID=12345, ROLLOUT_CLIENT_SECRET=SECRET)
    with pytest.raises(ConfigurationError, match="client id must be a str, got int"):
        RolloutToken(app, resolve_user=lambda: None)
