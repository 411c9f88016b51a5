"""Security behaviour, the same in both shells: Fetch Metadata, CORS for listed origins, the resolver
timeout, the audit hook and its log records, the bounded body, and what a resolver may return."""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
import threading
from typing import Any
from unittest import mock

import pytest

from .drive import (
    SHELLS,
    TOKEN_PATH,
    client,
    formatted_records,
    header_resolver,
    request_header,
)
from .support import SECRET, verify_token


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


# --- Fetch Metadata ---------------------------------------------------------------------------


def counting_resolver(shell: str, calls: list[object]) -> Any:
    resolve = header_resolver(shell)

    def counted(request: Any) -> Any:
        calls.append(request)
        return resolve(request)

    return counted


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert "token" not in body
    return body


def test_cross_site_browser_request_is_refused_before_the_resolver(shell: str) -> None:
    calls: list[object] = []
    with client(shell, counting_resolver(shell, calls)) as http:
        response = http.get(
            TOKEN_PATH,
            headers={
                "x-user": "alice",
                "sec-fetch-site": "cross-site",
                "origin": "https://evil.test",
            },
        )
        head = http.head(TOKEN_PATH, headers={"x-user": "alice", "sec-fetch-site": "cross-site"})
    assert_problem(response, 403)
    assert "access-control-allow-origin" not in response.headers
    assert head.status_code == 403
    assert head.content == b""
    assert calls == []


@pytest.mark.parametrize("site", ["same-origin", "same-site", "none", None])
def test_same_site_and_non_browser_requests_are_served(shell: str, site: str | None) -> None:
    headers = {"x-user": "alice"}
    if site is not None:
        headers["sec-fetch-site"] = site
    with client(shell, header_resolver(shell)) as http:
        response = http.get(TOKEN_PATH, headers=headers)
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "alice"
    assert "access-control-allow-origin" not in response.headers


# --- Allowed origins and CORS -----------------------------------------------------------------

PARTNER = "https://partner.example"


def test_listed_origin_gets_the_token_with_cors_headers(shell: str) -> None:
    with client(shell, header_resolver(shell), allowed_origins=[PARTNER]) as http:
        response = http.get(
            TOKEN_PATH,
            headers={"x-user": "bob", "sec-fetch-site": "cross-site", "origin": PARTNER},
        )
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "bob"
    assert response.headers["access-control-allow-origin"] == PARTNER
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://partner.example", "https://partner.example.evil", "null"],
)
def test_unlisted_origin_is_refused_without_cors_headers(shell: str, origin: str) -> None:
    calls: list[object] = []
    with client(shell, counting_resolver(shell, calls), allowed_origins=[PARTNER]) as http:
        response = http.get(
            TOKEN_PATH,
            headers={"x-user": "bob", "sec-fetch-site": "cross-site", "origin": origin},
        )
        preflight = http.options(
            TOKEN_PATH,
            headers={
                "origin": origin,
                "access-control-request-method": "GET",
                "sec-fetch-site": "cross-site",
            },
        )
    for answer in (response, preflight):
        assert_problem(answer, 403)
        assert not any(name.startswith("access-control-") for name in answer.headers)
    assert calls == []


def test_preflight_from_listed_origin_needs_no_user(shell: str) -> None:
    calls: list[object] = []
    with client(
        shell, counting_resolver(shell, calls), allowed_origins=[PARTNER], methods=["GET", "POST"]
    ) as http:
        response = http.options(
            TOKEN_PATH,
            headers={
                "origin": PARTNER,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, x-requested-with",
                "sec-fetch-site": "cross-site",
            },
        )
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == PARTNER
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-allow-headers"] == "content-type, x-requested-with"
    assert response.headers["vary"] == "Origin"
    assert "content-length" not in response.headers or response.headers["content-length"] == "0"
    assert calls == []


def test_options_without_allowed_origins_is_not_a_preflight(shell: str) -> None:
    with client(shell, header_resolver(shell)) as http:
        response = http.options(
            TOKEN_PATH, headers={"origin": PARTNER, "access-control-request-method": "GET"}
        )
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD"
    assert "access-control-allow-origin" not in response.headers


# --- Resolver timeout -------------------------------------------------------------------------


def test_hung_async_resolver_gets_503_and_a_log_record(
    shell: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def hang(request: Any) -> str:
        await asyncio.sleep(30)
        return "never"

    with client(shell, hang, resolver_timeout=0.2) as http:
        response = http.get(TOKEN_PATH)
    body = assert_problem(response, 503)
    assert "try again" in body["detail"]
    errors = [
        r for r in caplog.records if r.name == "rollout_middleware" and r.levelname == "ERROR"
    ]
    assert [r.getMessage() for r in errors] == [
        "The Rollout user resolver took longer than 0.2 seconds"
    ]


def test_hung_sync_resolver_gets_503_under_asgi() -> None:
    release = threading.Event()

    def hang(scope: Any) -> str:
        release.wait(10)
        return "late"

    try:
        with client("asgi", hang, resolver_timeout=0.2) as http:
            response = http.get(TOKEN_PATH)
            release.set()  # let the worker thread finish before the loop closes
    finally:
        release.set()
    assert_problem(response, 503)


# --- The on_issue hook and the log records ------------------------------------------------------


def make_hook(is_async: bool, calls: list[tuple[Any, ...]], *, fail: bool = False) -> Any:
    def record(*args: Any) -> None:
        calls.append(args)
        if fail:
            raise RuntimeError("the metrics backend is down")

    if not is_async:
        return record

    async def record_async(*args: Any) -> None:
        await asyncio.sleep(0)
        record(*args)

    return record_async


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-hook", "async-hook"])
def test_on_issue_hook_gets_user_expiry_and_request_but_no_token(
    shell: str, is_async: bool
) -> None:
    calls: list[tuple[Any, ...]] = []
    with client(shell, header_resolver(shell), on_issue=make_hook(is_async, calls)) as http:
        first = http.get(TOKEN_PATH, headers={"x-user": "carol"})
        nobody = http.get(TOKEN_PATH)
        second = http.get(TOKEN_PATH, headers={"x-user": "dave"})
    assert (first.status_code, nobody.status_code, second.status_code) == (200, 401, 200)
    assert len(calls) == 2
    for (user_id, expires_at, info), response, who in zip(
        calls, (first, second), ("carol", "dave"), strict=True
    ):
        claims = verify_token(response.json()["token"])
        assert (user_id, expires_at) == (who, claims["exp"])
        assert info == {"method": "GET", "path": TOKEN_PATH, "client": info["client"]}
        assert info["client"] is None or isinstance(info["client"], str)
        flat = repr((user_id, expires_at, info))
        assert response.json()["token"] not in flat
        assert SECRET not in flat


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-hook", "async-hook"])
def test_failing_hook_is_logged_and_the_token_is_served(
    shell: str, is_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[Any, ...]] = []
    hook = make_hook(is_async, calls, fail=True)
    with client(shell, header_resolver(shell), on_issue=hook) as http:
        response = http.get(TOKEN_PATH, headers={"x-user": "erin"})
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "erin"
    assert len(calls) == 1
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(failures) == 1
    assert failures[0].name == "rollout_middleware"
    assert "on_issue hook raised" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert "the metrics backend is down" in formatted_records(failures)


def test_one_info_record_per_token_with_user_and_expiry_only(
    shell: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rollout_middleware")
    users = ["frank", "grace", "frank", "42"]
    with client(shell, header_resolver(shell)) as http:
        responses = [http.get(TOKEN_PATH, headers={"x-user": user}) for user in users]
        refused = http.get(TOKEN_PATH)
    assert refused.status_code == 401
    records = [r for r in caplog.records if r.name == "rollout_middleware"]
    assert [r.levelname for r in records] == ["INFO"] * len(users)
    for record, response, user in zip(records, responses, users, strict=True):
        expires_at = verify_token(response.json()["token"])["exp"]
        assert record.getMessage() == (
            f"Issued a Rollout token for user {user!r}, expiring at {expires_at}"
        )
    text = formatted_records(caplog.records)
    for response in responses:
        token = response.json()["token"]
        assert token not in text
        assert token.rsplit(".", 1)[1] not in text


@pytest.mark.parametrize(
    "failure", ["raises", "invalid-id", "hook-fails", "timeout"], ids=lambda f: str(f)
)
def test_no_log_record_or_answer_carries_the_secret(
    shell: str, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def resolve(request: Any) -> Any:
        if failure == "raises":
            raise ValueError(f"lookup failed for {request_header(shell, request, 'x-user')}")
        if failure == "invalid-id":
            return "   "
        if failure == "timeout":
            await asyncio.sleep(30)
        return "heidi"

    hook = make_hook(False, [], fail=True)
    with client(shell, resolve, on_issue=hook, resolver_timeout=0.2) as http:
        response = http.get(TOKEN_PATH, headers={"x-user": "heidi", "cookie": "session=abc"})
    expected = {"raises": 500, "invalid-id": 500, "hook-fails": 200, "timeout": 503}[failure]
    assert response.status_code == expected
    text = formatted_records(caplog.records)
    assert caplog.records
    for secretish in (SECRET, SECRET.encode().hex(), base64.b64encode(SECRET.encode()).decode()):
        assert secretish not in text
        assert secretish not in response.text
        assert secretish not in str(response.headers)
    if expected != 200:
        assert "lookup failed" not in response.text
        assert "Traceback" not in response.text


# --- The bounded request body -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1024, 1025, 200_000])
def test_post_body_is_discarded_up_to_the_limit_and_refused_beyond(shell: str, size: int) -> None:
    with client(shell, header_resolver(shell), methods=["POST"], max_body_size=1024) as http:
        response = http.post(TOKEN_PATH, headers={"x-user": "ivan"}, content=b"x" * size)
    if size <= 1024:
        assert response.status_code == 200
        assert verify_token(response.json()["token"])["sub"] == "ivan"
    else:
        assert_problem(response, 413)
