"""Corners of the core that a mutation run found unguarded: each test here kills a mutant.

They talk to :class:`~rollout_middleware.decision.TokenDecision`, the issuer and the config
helpers directly, so the fast core tests (``nox -s mutation``) reach them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Generator
from typing import Any

import pytest

from rollout_middleware import (
    Answer,
    ConfigurationError,
    TokenDecision,
    TokenIssuer,
    TokenRequest,
    _config,
)
from rollout_middleware._sync import _resume, first_step
from rollout_middleware.errors import ResolverTimeoutError
from tests.support import CLIENT_ID, SECRET, req

ORIGIN = "https://app.example.com"
CREDENTIALS: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": SECRET}


def decision(**options: Any) -> TokenDecision:
    return TokenDecision.build(path="/rollout-token", **CREDENTIALS, **options)


def cors_decision() -> TokenDecision:
    return decision(allowed_origins=[ORIGIN])


def too_large(decision: TokenDecision, headers: dict[str, str]) -> Any:
    body = [b"x" * (decision.settings.max_body_size + 1)]
    return decision.check_body(req(decision, "POST", headers), body)


def preflight(requested_headers: str | None = None) -> dict[str, str]:
    headers = {"origin": ORIGIN, "access-control-request-method": "GET"}
    if requested_headers is not None:
        headers["access-control-request-headers"] = requested_headers
    answer = cors_decision().precheck(req(cors_decision(), "OPTIONS", headers))
    assert answer is not None
    assert answer.status == 204
    assert answer.body == b""
    assert {k.lower().encode("latin-1"): v.encode("latin-1") for k, v in answer.headers} == dict(
        answer.raw_headers
    )
    return {name.lower(): value for name, value in answer.headers}


# --- The CORS preflight ---------------------------------------------------------------------------


def test_the_204_preflight_has_no_content_length() -> None:
    """RFC 9110 section 8.6: a 204 carries no Content-Length."""
    assert "content-length" not in preflight()


def test_the_preflight_max_age_is_ten_minutes() -> None:
    headers = preflight()
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-methods"] == "GET"
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-credentials"] == "true"


def test_valid_requested_headers_are_echoed() -> None:
    assert preflight("x-requested-with, Authorization")["access-control-allow-headers"] == (
        "x-requested-with, Authorization"
    )


@pytest.mark.parametrize(
    "requested",
    ["x-a, bad header", "x-a,,x-b", "x-a\r\nset-cookie: a=b", "x-a;b", "", " , "],
)
def test_invalid_requested_headers_are_not_echoed(requested: str) -> None:
    assert "access-control-allow-headers" not in preflight(requested)


# --- Allow and the CORS headers on every answer to an allowed origin -----------------------------


def test_allow_keeps_options_when_cors_is_on() -> None:
    answer = cors_decision().precheck(req(cors_decision(), "DELETE", {"origin": ORIGIN}))
    assert answer is not None
    assert answer.status == 405
    assert dict(answer.headers)["Allow"] == "GET, HEAD, OPTIONS"
    without_cors = decision().precheck(req(decision(), "DELETE", {}))
    assert without_cors is not None
    assert dict(without_cors.headers)["Allow"] == "GET, HEAD"


def _cors_of(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {k: v for k, v in headers if k.startswith("Access-Control") or k == "Vary"}


EXPECTED_CORS = {
    "Access-Control-Allow-Origin": ORIGIN,
    "Access-Control-Allow-Credentials": "true",
    "Vary": "Origin",
}


def answer_timeout(decision: TokenDecision, request: TokenRequest) -> Answer:
    """The answer when the resolver timed out: ``failed()`` in the ``except`` block."""
    try:
        raise ResolverTimeoutError("took longer than 1 seconds")
    except ResolverTimeoutError:
        return decision.failed(request)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_error_answers_to_an_allowed_origin_carry_cors(method: str) -> None:
    cors = cors_decision()
    headers = {"origin": ORIGIN}
    not_allowed = cors.precheck(req(cors, "PUT", headers))
    assert not_allowed is not None
    failed = cors.failed(req(cors, method, headers))
    timed_out = answer_timeout(cors, req(cors, method, headers))
    body_over = too_large(cors, headers)
    nobody, _ = cors.answer(req(cors, method, headers), None)
    invalid, _ = cors.answer(req(cors, method, headers), True)
    token, _ = cors.answer(req(cors, method, headers), "user-1")
    for answer, status in [
        (not_allowed, 405),
        (failed, 500),
        (timed_out, 503),
        (body_over, 413),
        (nobody, 401),
        (invalid, 500),
        (token, 200),
    ]:
        assert answer.status == status
        assert _cors_of(answer.headers) == EXPECTED_CORS, status
        assert {k: v for k, v in answer.raw_headers if k.startswith(b"access-control")} == {
            b"access-control-allow-origin": ORIGIN.encode(),
            b"access-control-allow-credentials": b"true",
        }


def test_error_answers_to_another_origin_carry_no_cors() -> None:
    cors = cors_decision()
    headers = {"origin": "https://evil.example"}
    for answer in (
        cors.failed(req(cors, "GET", headers)),
        answer_timeout(cors, req(cors, "GET", headers)),
        too_large(cors, headers),
    ):
        assert _cors_of(answer.headers) == {}


def test_a_head_answer_has_the_headers_and_no_body() -> None:
    cors = cors_decision()
    for method_answer in (cors.failed, functools.partial(answer_timeout, cors)):
        get, head = method_answer(req(cors, "GET")), method_answer(req(cors, "HEAD"))
        assert head.headers == get.headers
        assert head.body == b""
        assert get.body


# --- _resume: the coroutine stepped by hand in await_within -------------------------------------


class Waits:
    """An awaitable step that a coroutine yields to its driver, as a future would."""

    def __await__(self) -> Generator[str, Any, Any]:
        return (yield "waiting")


async def waits_twice(cleaned: list[str]) -> str:
    """A resolver that waits twice, then answers; ``cleaned`` says when its ``finally`` ran."""
    try:
        await Waits()
        await Waits()
    finally:
        cleaned.append("closed")
    return "user"


def test_first_step_of_a_waiting_resolver_gives_the_rest() -> None:
    """``first_step`` hands back what is left: driving it gives the waits, then the value; closing
    it closes the resolver."""
    cleaned: list[str] = []
    resolver = functools.partial(waits_twice, cleaned)
    done, rest = first_step(resolver())
    assert not done
    assert rest.send(None) == "waiting"  # the first wait, handed on to the event loop
    assert rest.send(None) == "waiting"
    with pytest.raises(StopIteration) as finished:
        rest.send(None)
    assert finished.value.value == "user"
    done, rest = first_step(resolver())
    assert rest.send(None) == "waiting"  # driven, as an event loop does before any cancellation
    rest.close()
    assert cleaned == ["closed", "closed"]


def test_closing_the_resumed_coroutine_closes_the_resolver() -> None:
    """A closed outer coroutine (``GeneratorExit``) closes the resolver: its ``finally`` runs now."""
    cleaned: list[str] = []
    resolver = functools.partial(waits_twice, cleaned)
    coroutine = resolver()
    first = coroutine.send(None)
    resumed = _resume(coroutine, first)
    assert resumed.send(None) == "waiting"
    resumed.close()
    assert cleaned == ["closed"]
    assert coroutine.cr_frame is None


def test_a_resolver_that_swallows_cancellation_returns_its_value() -> None:
    async def resolver() -> str:
        try:
            await Waits()
        except asyncio.CancelledError:
            return "swallowed"
        return "finished"

    coroutine = resolver()
    resumed = _resume(coroutine, coroutine.send(None))
    assert resumed.send(None) == "waiting"
    with pytest.raises(StopIteration) as done:
        resumed.throw(asyncio.CancelledError())
    assert done.value.value == "swallowed"


def test_what_the_loop_sends_reaches_the_resolver_and_its_value_comes_back() -> None:
    async def resolver() -> str:
        first = await Waits()
        second = await Waits()
        return f"{first}+{second}"

    coroutine = resolver()
    resumed = _resume(coroutine, coroutine.send(None))
    assert resumed.send(None) == "waiting"
    assert resumed.send("a") == "waiting"
    with pytest.raises(StopIteration) as done:
        resumed.send("b")
    assert done.value.value == "a+b"


def test_an_exception_thrown_in_and_handled_lets_the_resolver_go_on() -> None:
    async def resolver() -> str:
        with contextlib.suppress(KeyError):
            await Waits()
        return str(await Waits())

    coroutine = resolver()
    resumed = _resume(coroutine, coroutine.send(None))
    assert resumed.send(None) == "waiting"
    assert resumed.throw(KeyError("x")) == "waiting"
    with pytest.raises(StopIteration) as done:
        resumed.send("after")
    assert done.value.value == "after"


# --- Options --------------------------------------------------------------------------------------


def test_from_env_honours_ttl_and_clock() -> None:
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    issuer = TokenIssuer.from_env(env, ttl=60, clock=lambda: 1_000.5)
    assert issuer.ttl == 60
    assert issuer.issue("u").expires_at == 1_060


def test_from_env_reads_the_process_environment_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "from-the-environment")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    assert TokenIssuer.from_env().client_id == "from-the-environment"


async def nobody(scope: Any) -> None:
    return None


@pytest.mark.parametrize("timeout", [True, False, "10", 0, -1, float("inf"), float("nan")])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout: object) -> None:
    with pytest.raises(ConfigurationError, match="resolver_timeout must be a positive number"):
        _config.build(
            "t", {"resolve_user": nobody, "resolver_timeout": timeout}, _config.SHELL_OPTIONS
        )


@pytest.mark.parametrize(("timeout", "kept"), [(None, None), (1, 1.0), (0.25, 0.25)])
def test_a_timeout_is_kept_as_float_seconds(timeout: float | None, kept: float | None) -> None:
    settings = _config.build(
        "t", {"resolve_user": nobody, "resolver_timeout": timeout}, _config.SHELL_OPTIONS
    )
    assert settings.resolver_timeout == kept


def test_max_body_size_zero_is_accepted() -> None:
    assert TokenDecision.build(**CREDENTIALS, max_body_size=0).settings.max_body_size == 0
    with pytest.raises(ConfigurationError, match="max_body_size"):
        TokenDecision.build(**CREDENTIALS, max_body_size=-1)
    with pytest.raises(ConfigurationError, match="max_body_size"):
        TokenDecision.build(**CREDENTIALS, max_body_size=True)


# --- The words of the answers and errors: part of the contract ----------------------------------

PROBLEM_DETAILS = {
    401: "Log in to get a Rollout token.",
    403: "Cross-site requests for a Rollout token are refused.",
    405: "This method does not serve Rollout tokens.",
    413: "The request body is too large.",
    500: "The Rollout token could not be issued.",
    503: "The user could not be identified in time; try again.",
}


def test_every_problem_answer_says_exactly_this() -> None:
    import json

    cors = cors_decision()
    answers = [
        cors.answer(req(cors, "GET", {}), None)[0],
        cors.precheck(req(cors, "GET", {"sec-fetch-site": "cross-site"})),
        cors.precheck(req(cors, "PUT", {})),
        too_large(cors, {}),
        cors.failed(req(cors, "GET", {})),
        answer_timeout(cors, req(cors, "GET", {})),
    ]
    for answer in answers:
        assert answer is not None
        body = json.loads(answer.body)
        assert body["detail"] == PROBLEM_DETAILS[answer.status]
        assert body["status"] == answer.status
        assert dict(answer.headers)["Content-Type"] == "application/problem+json"


def test_preflight_header_names_are_canonical_for_wsgi() -> None:
    cors = cors_decision()
    answer = cors.precheck(
        req(cors, "OPTIONS", {"origin": ORIGIN, "access-control-request-method": "GET"})
    )
    assert answer is not None
    names = [name for name, _ in answer.headers]
    assert "Access-Control-Allow-Methods" in names
    assert "Access-Control-Max-Age" in names


@pytest.mark.parametrize(
    ("user_id", "message"),
    [
        ("", "user id must not be empty or whitespace only"),
        ("x" * 257, "user id must be at most 256 characters long"),
        (10**300, "user id must be at most 256 characters long"),
        (1.5, "user id must be a non-empty str, an int or a UUID, not float"),
        ("\ud800", "user id must be valid Unicode text"),
    ],
)
def test_invalid_user_ids_say_why(user_id: object, message: str) -> None:
    from rollout_middleware.errors import InvalidUserIdError
    from rollout_middleware.tokens import user_id_to_subject

    with pytest.raises(InvalidUserIdError) as caught:
        user_id_to_subject(user_id)
    assert str(caught.value) == message


def test_a_configuration_error_at_a_request_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cors = cors_decision()
    for _ in range(3):
        try:
            raise ConfigurationError("wire it the other way round")
        except ConfigurationError:
            answer = cors.failed(req(cors, "GET", {"origin": ORIGIN}))
        assert answer.status == 500
    try:
        raise ConfigurationError("another mistake")
    except ConfigurationError:
        cors.failed(req(cors, "GET", {}))
    messages = [r.getMessage() for r in caplog.records if r.name == "rollout_middleware"]
    assert messages == [
        "The Rollout token endpoint is misconfigured (its user resolver raised): wire it the "
        "other way round. Every request for a token fails with 500 until this is fixed; this is "
        "logged once.",
        "The Rollout token endpoint is misconfigured (its user resolver raised): another mistake. "
        "Every request for a token fails with 500 until this is fixed; this is logged once.",
    ]
    assert all(r.exc_info is None for r in caplog.records)
    try:
        raise KeyError("not a configuration error")
    except KeyError:
        cors.failed(req(cors, "GET", {}))
    assert caplog.records[-1].exc_info is not None


def test_a_secret_of_exactly_64_bytes_is_not_short(caplog: pytest.LogCaptureFixture) -> None:
    import uuid

    assert len(SECRET.encode()) == 64
    TokenIssuer(f"client-{uuid.uuid4().hex}", SECRET)
    TokenIssuer(f"client-{uuid.uuid4().hex}", SECRET.encode()[:63])
    warnings = [r for r in caplog.records if "recommends" in r.getMessage()]
    assert len(warnings) == 1
    assert "is 63 bytes; PyJWT recommends at least 64 for HS512" in warnings[0].getMessage()


def test_an_unset_variable_is_reported_missing_not_mistyped() -> None:
    from rollout_middleware.tokens import generate_token

    for build in (
        lambda: TokenIssuer.from_env({}),
        lambda: generate_token("u", environ={}),
        lambda: _config.Credentials(environ={}).issuer(),
        lambda: _config.Credentials(client_id=CLIENT_ID, environ={}).issuer(),
    ):
        with pytest.raises(
            ConfigurationError, match=r"credentials are missing: set ROLLOUT_CLIENT_"
        ):
            build()
