"""Security behaviour, the same in both shells: Fetch Metadata, CORS for listed origins, the resolver
timeout, the audit hook and its log records, the bounded body, and what a resolver may return."""

from __future__ import annotations

import enum
from typing import Any
from unittest import mock

import pytest

from .drive import SHELLS, TOKEN_PATH, client
from .support import verify_token


@pytest.fixture(params=SHELLS)
def shell(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- What a resolver may return (regression: these escaped as unhandled exceptions) ----------


class RaisingInt(int):
    """An int whose own conversions raise: its value is still a plain int."""

    def __int__(self) -> int:
        raise RuntimeError("__int__ must not be called")

    def __str__(self) -> str:
        raise RuntimeError("__str__ must not be called")

    __repr__ = __str__


class Colour(enum.IntEnum):
    RED = 7


@pytest.mark.parametrize(
    ("user_id", "sub"),
    [(RaisingInt(42), "42"), (Colour.RED, "7"), (10**30, str(10**30))],
    ids=["raising-int-subclass", "int-enum", "big-int"],
)
def test_int_like_user_ids_become_their_decimal_value(shell: str, user_id: Any, sub: str) -> None:
    with client(shell, lambda request: user_id) as http:
        response = http.get(TOKEN_PATH)
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == sub


@pytest.mark.parametrize(
    "user_id",
    [mock.Mock(spec=int), mock.Mock(spec=str), mock.MagicMock(spec=int), 1.0, b"u"],
    ids=["mock-int", "mock-str", "magicmock-int", "float", "bytes"],
)
def test_objects_that_only_pretend_to_be_ids_get_500(
    shell: str, user_id: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with client(shell, lambda request: user_id) as http:
        response = http.get(TOKEN_PATH)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "invalid Rollout user id" in caplog.text
