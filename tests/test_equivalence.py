"""Every entry point gives the ASGI middleware's answer: status, headers and body, case by case.

Adapters register themselves in ``tests/equivalence/``; see its docstring for the user convention.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from rollout_middleware import TokenIssuer

from .equivalence import ADAPTERS, iter_names, user_from_header
from .equivalence.shells import REFERENCE
from .support import CLIENT_ID, SECRET, verify_token

ORIGIN = "https://app.example.com"

KELVIN_ORIGIN = "https://\u212a.example"  # "K".lower() == "k": must never match https://k.example


class Chunked(bytes):
    """A body sent without ``Content-Length``, in chunks (``Transfer-Encoding: chunked``)."""


Headers = dict[str, str] | list[tuple[Any, Any]]

#: (name, options, method, headers, body)
CASES: list[tuple[str, dict[str, Any], str, Headers, bytes]] = [
    ("token", {}, "GET", {"x-user": "alice"}, b""),
    ("int-user", {}, "GET", {"x-user": "7"}, b""),
    ("uuid-user", {}, "GET", {"x-user": "uuid:12345678123456781234567812345678"}, b""),
    (
        "repeated-fetch-site",
        {},
        "GET",
        [("x-user", "alice"), ("sec-fetch-site", "same-origin"), ("sec-fetch-site", "cross-site")],
        b"",
    ),
    (
        "repeated-origin",
        {"allowed_origins": (ORIGIN,)},
        "GET",
        [("x-user", "alice"), ("origin", ORIGIN), ("origin", ORIGIN)],
        b"",
    ),
    (
        "non-ascii-requested-headers",
        {"allowed_origins": (ORIGIN,)},
        "OPTIONS",
        [
            ("origin", ORIGIN),
            ("access-control-request-method", "GET"),
            (b"access-control-request-headers", "x-a, \u043a\u043b\u044e\u0447".encode()),
        ],
        b"",
    ),
    (
        "non-ascii-origin",
        {"allowed_origins": ("https://k.example",)},
        "GET",
        [
            ("x-user", "alice"),
            ("sec-fetch-site", "cross-site"),
            (b"origin", KELVIN_ORIGIN.encode()),
        ],
        b"",
    ),
    (
        "chunked-body-too-large",
        {"methods": ("POST",), "max_body_size": 8},
        "POST",
        {"x-user": "alice"},
        Chunked(b"0123456789" * 3),
    ),
    ("chunked-body", {"methods": ("POST",)}, "POST", {"x-user": "alice"}, Chunked(b"{}")),
    ("head", {}, "HEAD", {"x-user": "alice"}, b""),
    ("anonymous", {}, "GET", {"x-user": "none"}, b""),
    ("anonymous-head", {}, "HEAD", {"x-user": "none"}, b""),
    ("lookup-raises", {}, "GET", {"x-user": "raise"}, b""),
    ("not-a-user-id", {}, "GET", {"x-user": "bad"}, b""),
    ("cross-site", {}, "GET", {"x-user": "alice", "sec-fetch-site": "cross-site"}, b""),
    ("same-origin", {}, "GET", {"x-user": "alice", "sec-fetch-site": "same-origin"}, b""),
    ("post-not-allowed", {}, "POST", {"x-user": "alice"}, b""),
    ("delete-not-allowed", {}, "DELETE", {"x-user": "alice"}, b""),
    ("options-without-cors", {}, "OPTIONS", {"x-user": "alice"}, b""),
    ("post", {"methods": ("POST",)}, "POST", {"x-user": "alice"}, b"{}"),
    ("get-when-post", {"methods": ("POST",)}, "GET", {"x-user": "alice"}, b""),
    (
        "body-too-large",
        {"methods": ("POST",), "max_body_size": 8},
        "POST",
        {"x-user": "alice", "content-type": "application/json"},
        b'{"padding": "0123456789"}',
    ),
    (
        "cors-allowed",
        {"allowed_origins": (ORIGIN,)},
        "GET",
        {"x-user": "alice", "origin": ORIGIN, "sec-fetch-site": "cross-site"},
        b"",
    ),
    (
        "cors-refused",
        {"allowed_origins": (ORIGIN,)},
        "GET",
        {"x-user": "alice", "origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        b"",
    ),
    (
        "cors-anonymous",
        {"allowed_origins": (ORIGIN,)},
        "GET",
        {"x-user": "none", "origin": ORIGIN, "sec-fetch-site": "cross-site"},
        b"",
    ),
    (
        "preflight",
        {"allowed_origins": (ORIGIN,)},
        "OPTIONS",
        {
            "origin": ORIGIN,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization, x-requested-with",
        },
        b"",
    ),
    (
        "preflight-refused",
        {"allowed_origins": (ORIGIN,)},
        "OPTIONS",
        {"origin": "https://evil.example", "access-control-request-method": "GET"},
        b"",
    ),
    (
        "cors-405",
        {"allowed_origins": (ORIGIN,)},
        "PUT",
        {"x-user": "alice", "origin": ORIGIN, "sec-fetch-site": "cross-site"},
        b"",
    ),
]


def _issuer(now: int) -> TokenIssuer:
    return TokenIssuer(CLIENT_ID, SECRET, clock=lambda: now)


def _answer(
    adapter_name: str,
    now: int,
    options: dict[str, Any],
    method: str,
    headers: Headers,
    body: bytes,
) -> tuple[Any, list[tuple[Any, ...]]]:
    adapter = ADAPTERS[adapter_name]
    issued: list[tuple[Any, ...]] = []
    content: Any = iter([bytes(body[:4]), bytes(body[4:])]) if isinstance(body, Chunked) else body
    with adapter.factory(
        issuer=_issuer(now), on_issue=lambda *args: issued.append(args), **options
    ) as client:
        response = client.request(method, "/rollout-token", headers=headers, content=content)
    return response, issued


def _ours(response: Any, ignore: frozenset[str]) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in ignore}


@pytest.mark.parametrize("adapter_name", list(iter_names()))
@pytest.mark.parametrize(
    ("case", "options", "method", "headers", "body"), CASES, ids=[c[0] for c in CASES]
)
def test_same_answer_as_the_asgi_middleware(
    adapter_name: str,
    case: str,
    options: dict[str, Any],
    method: str,
    headers: Headers,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rollout_middleware")
    now = int(time.time())  # one clock for both sides, so both mint the same token
    expected, expected_issued = _answer(REFERENCE.name, now, options, method, headers, body)
    caplog.clear()
    got, issued = _answer(adapter_name, now, options, method, headers, body)
    assert got.status_code == expected.status_code
    ignore = ADAPTERS[adapter_name].extra_headers
    assert _ours(got, ignore) == _ours(expected, REFERENCE.extra_headers)
    assert got.content == expected.content
    # The hook sees the same user and expiry (the request info is the framework's own view).
    assert [args[:2] for args in issued] == [args[:2] for args in expected_issued]
    user = dict(headers).get("x-user")
    if expected.status_code == 200 and method != "HEAD":
        assert verify_token(got.json()["token"])["sub"] == str(user_from_header(user))
    if case in ("lookup-raises", "not-a-user-id"):
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors, "the failure must be logged"
        assert SECRET not in caplog.text


@pytest.mark.parametrize("adapter_name", list(iter_names()))
def test_the_frameworks_own_refusal_keeps_the_cors_headers(adapter_name: str) -> None:
    """A page of an allowed origin can read every answer of the token route, the framework's own
    401 included: without the CORS headers its fetch fails as if the network had."""
    origin = "https://app.example.com"
    with ADAPTERS[adapter_name].factory(
        issuer=_issuer(int(time.time())), allowed_origins=(origin,)
    ) as client:
        response = client.request(
            "GET", "/rollout-token", headers=[("origin", origin), ("x-user", "deny")], content=b""
        )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "origin" in response.headers["vary"].lower()
    with ADAPTERS[adapter_name].factory(
        issuer=_issuer(int(time.time())), allowed_origins=(origin,)
    ) as client:
        other = client.request(
            "GET",
            "/rollout-token",
            headers=[("origin", "https://evil.example"), ("x-user", "deny")],
            content=b"",
        )
    assert other.status_code == 401
    assert "access-control-allow-origin" not in other.headers
