"""The core's contract to the letter: every message, header name, byte and default that an app, a log
search or an adapter may depend on.

Other tests check behaviour through the shells; these pin what the core itself promises, word for
word, so that no change to a message, a header's spelling, a default or a boundary goes unnoticed
(they kill the mutants of ``nox -s mutation``; see ``tests/mutation-equivalents.md``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest
from asgiref.sync import SyncToAsync
from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import InvalidKeyError

from rollout_middleware import (
    ConfigurationError,
    InvalidUserIdError,
    TokenDecision,
    TokenIssuer,
    _config,
)
from rollout_middleware._config import DEFAULT_RESOLVER_TIMEOUT, RequestInfo, check_names
from rollout_middleware._sync import THREAD_SENSITIVE_NEEDS_ASYNCIO, as_async
from rollout_middleware.decision import Answer
from rollout_middleware.errors import ResolverTimeoutError
from rollout_middleware.tokens import generate_token, user_id_to_subject
from tests.support import CLIENT_ID, SECRET, req

ORIGIN = "https://app.example.com"
INFO: RequestInfo = {"method": "GET", "path": "/rollout-token", "client": None}


def _resolver(scope: Any) -> str:
    return "ada"


def shell_settings(owner: str, resolve_user: Any, path: str, options: dict[str, Any]) -> Any:
    return _config.build(
        owner, {**options, "resolve_user": resolve_user, "path": path}, _config.SHELL_OPTIONS
    )


def _decision(**options: Any) -> TokenDecision:
    return TokenDecision.build(client_id=CLIENT_ID, client_secret=SECRET, **options)


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The package's warnings and errors (whether its INFO lines are captured depends on the
    logging level that earlier tests left)."""
    return [
        r for r in caplog.records if r.name == "rollout_middleware" and r.levelno >= logging.WARNING
    ]


# -- Configuration errors, word for word -----------------------------------------------------------


def _pyjwt_refusal(secret: str) -> str:
    """What PyJWT itself says of ``secret`` as an HMAC key (its words change between versions)."""
    with pytest.raises(InvalidKeyError) as caught:
        HMACAlgorithm(HMACAlgorithm.SHA512).prepare_key(secret)
    return str(caught.value)


PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"

ERRORS: dict[str, tuple[Callable[[], object], str]] = {
    "clock": (
        lambda: TokenIssuer(CLIENT_ID, SECRET, clock=1.5),  # type: ignore[arg-type]
        "clock must be a callable returning POSIX seconds",
    ),
    "pem secret": (
        lambda: TokenIssuer(CLIENT_ID, PEM),
        f"PyJWT refused the Rollout client secret: {_pyjwt_refusal(PEM)}",
    ),
    "from_env without id": (
        lambda: TokenIssuer.from_env({"ROLLOUT_CLIENT_SECRET": SECRET}),
        "the Rollout credentials are missing: set ROLLOUT_CLIENT_ID",
    ),
    "from_env without secret": (
        lambda: TokenIssuer.from_env({"ROLLOUT_CLIENT_ID": CLIENT_ID}),
        "the Rollout credentials are missing: set ROLLOUT_CLIENT_SECRET",
    ),
    "generate_token without either": (
        lambda: generate_token("ada", environ={}),
        "the Rollout credentials are missing: set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET",
    ),
    "credentials without id": (
        lambda: _config.Credentials(environ={"ROLLOUT_CLIENT_SECRET": SECRET}).issuer(),
        "the Rollout credentials are missing: set ROLLOUT_CLIENT_ID",
    ),
    "path": (
        lambda: _decision(path="rollout-token"),
        "path must be a str that starts with '/' and holds no whitespace, '?' or '#', "
        "got 'rollout-token'",
    ),
    "OPTIONS method": (
        lambda: _decision(methods=("GET", "OPTIONS")),
        "OPTIONS cannot serve tokens: it is the CORS preflight, answered by the middleware "
        "itself when allowed_origins is set",
    ),
    "no method": (
        lambda: _decision(methods=()),
        "methods must name at least one HTTP method",
    ),
    "origins as str": (
        lambda: _decision(allowed_origins=ORIGIN),
        f"allowed_origins must be a sequence such as ('https://app.example.com',), got {ORIGIN!r}",
    ),
    "origin with a path": (
        lambda: _decision(allowed_origins=(ORIGIN + "/",)),
        "each allowed origin must be 'scheme://host[:port]' with no path, no trailing '/' "
        f"and no wildcard, got '{ORIGIN}/'",
    ),
    "issuer of another type": (
        lambda: TokenDecision.build(issuer="issuer"),  # type: ignore[arg-type]
        "issuer must be a TokenIssuer, got str",
    ),
    "issuer and ttl": (
        lambda: TokenDecision.build(issuer=TokenIssuer(CLIENT_ID, SECRET), ttl=60),
        "give either issuer or client_id/client_secret/ttl, not both",
    ),
    "issuer and client_id": (
        lambda: TokenDecision.build(issuer=TokenIssuer(CLIENT_ID, SECRET), client_id=CLIENT_ID),
        "give either issuer or client_id/client_secret/ttl, not both",
    ),
    "issuer and client_secret": (
        lambda: TokenDecision.build(issuer=TokenIssuer(CLIENT_ID, SECRET), client_secret=SECRET),
        "give either issuer or client_id/client_secret/ttl, not both",
    ),
    "resolver": (
        lambda: shell_settings("Shell", "ada", "/t", {}),
        "resolve_user must be a callable that returns a user id, got str",
    ),
    "thread_sensitive": (
        lambda: shell_settings("Shell", _resolver, "/t", {"thread_sensitive": "yes"}),
        "thread_sensitive must be True or False, got 'yes'",
    ),
}


@pytest.mark.parametrize("case", ERRORS)
def test_each_configuration_error_word_for_word(case: str) -> None:
    build, message = ERRORS[case]
    with pytest.raises(ConfigurationError) as caught:
        build()
    assert str(caught.value) == message


def test_an_int_id_too_long_for_str_says_so() -> None:
    with pytest.raises(InvalidUserIdError) as caught:
        user_id_to_subject(10**5000)  # beyond sys.get_int_max_str_digits()
    assert str(caught.value) == "user id must be at most 256 characters long"


# -- Unknown keywords -------------------------------------------------------------------------------


def test_the_longest_option_within_an_unknown_name_is_suggested() -> None:
    # Too far from every option for difflib; "issuer" and "ttl" both lie within it.
    with pytest.raises(TypeError) as caught:
        _decision(issuer_and_its_ttl_in_seconds=1)
    assert str(caught.value) == (
        "TokenDecision.build() got an unexpected keyword argument "
        "'issuer_and_its_ttl_in_seconds'; did you mean 'issuer'?"
    )


def test_an_unknown_name_near_nothing_lists_every_option() -> None:
    with pytest.raises(TypeError) as caught:
        check_names("Thing", ["zzz"], {"b", "a"})
    assert str(caught.value) == "Thing() got an unexpected keyword argument 'zzz'; it takes a, b"


@pytest.mark.parametrize(
    ("build", "typo", "meant"),
    [
        (lambda **kw: _decision(**kw, path="/t"), "pth", "path"),
        (lambda **kw: shell_settings("Shell", _resolver, "/t", kw), "pth", "path"),
        (lambda **kw: shell_settings("Shell", _resolver, "/t", kw), "resolve_usr", "resolve_user"),
    ],
)
def test_path_and_resolve_user_are_suggested_too(
    build: Callable[..., object], typo: str, meant: str
) -> None:
    with pytest.raises(TypeError, match=rf"; did you mean '{meant}'\?$"):
        build(**{typo: "/t"})


# -- Defaults and what is passed on ----------------------------------------------------------------


def test_the_environment_given_is_read_not_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    env = {"ROLLOUT_CLIENT_ID": "from-mapping", "ROLLOUT_CLIENT_SECRET": SECRET}
    assert _config.Credentials(environ=env).issuer().client_id == "from-mapping"


def test_generate_token_reads_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    assert generate_token("ada", ttl=60).count(".") == 2


def test_shell_settings_pass_each_resolver_option_on() -> None:
    credentials = {"client_id": CLIENT_ID, "client_secret": SECRET}
    default = shell_settings("Shell", _resolver, "/t", credentials)
    assert (default.resolver_timeout, default.thread_sensitive) == (DEFAULT_RESOLVER_TIMEOUT, False)
    options = {"thread_sensitive": True, "resolver_timeout": 2, "ttl": 60, **credentials}
    settings = shell_settings("Shell", _resolver, "/t", options)
    assert (settings.resolver_timeout, settings.thread_sensitive) == (2.0, True)
    assert (settings.path, settings.credentials.issuer().ttl) == ("/t", 60)


def test_an_option_the_entry_point_does_not_take_has_no_effect() -> None:
    settings = _config.build("Router", {"client_id": CLIENT_ID})
    assert (settings.path, settings.resolver_timeout, settings.resolve_user) == (None, None, None)


def test_a_decision_built_without_a_path_answers_every_path() -> None:
    assert _decision().owns("/anything")
    assert not _decision(path="/t").owns("/anything")


def test_the_request_keeps_only_the_decisions_headers_by_lower_case_name() -> None:
    given = {"Origin": ORIGIN, "sec-fetch-site": "same-origin", "cookie": "s=1"}
    assert req(_decision(), "GET", given).headers == {
        "origin": ORIGIN,
        "sec-fetch-site": "same-origin",
    }


def test_a_repeated_origin_or_fetch_site_is_refused_as_cross_site() -> None:
    decision = _decision(allowed_origins=(ORIGIN,))
    for name, first, second in [
        ("sec-fetch-site", "same-origin", "cross-site"),
        ("sec-fetch-site", "same-origin", "same-origin"),
        ("origin", ORIGIN, ORIGIN),
    ]:
        for pairs in ([(name, first), (name, second)], [(name, f"{first}, {second}")]):
            request = decision.request("GET", pairs)
            answer = decision.precheck(request)
            assert answer is not None
            assert answer.status == 403, pairs
    assert decision.precheck(decision.request("GET", [("origin", ORIGIN)])) is None


# -- Answers to the byte -----------------------------------------------------------------------------


def test_a_problem_is_compact_rfc_9457_json() -> None:
    answer = _decision().answer(req(_decision(), "GET", {}), None)[0]
    assert answer.body == (
        b'{"type":"about:blank","title":"Unauthorized","status":401,'
        b'"detail":"Log in to get a Rollout token."}'
    )


def test_content_length_is_spelled_canonically_for_wsgi() -> None:
    answer = Answer.make(200, (), b"{}")
    assert answer.headers == (("Content-Length", "2"),)
    assert answer.raw_headers == ((b"content-length", b"2"),)


def test_the_preflight_headers_are_spelled_canonically() -> None:
    decision = _decision(allowed_origins=(ORIGIN,))
    headers = {
        "origin": ORIGIN,
        "access-control-request-method": "GET",
        "access-control-request-headers": "x-csrftoken",
    }
    answer = decision.precheck(req(decision, "OPTIONS", headers))
    assert answer is not None
    assert answer.headers[-1] == ("Access-Control-Allow-Headers", "x-csrftoken")


def test_cors_headers_for_an_allowed_origin_only() -> None:
    decision = _decision(allowed_origins=(ORIGIN,))
    assert req(decision, "GET", {"origin": ORIGIN}).cors == (
        ("Access-Control-Allow-Origin", ORIGIN),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    )
    assert req(decision, "GET", {"origin": "https://elsewhere.example"}).cors == ()
    assert req(decision, "GET").cors == ()
    assert req(_decision(), "GET", {"origin": ORIGIN}).cors == ()


def test_the_declared_body_size_limit_is_inclusive_and_only_for_bodies() -> None:
    decision = _decision(methods=("GET", "POST"), max_body_size=10, allowed_origins=(ORIGIN,))
    assert decision.precheck(req(decision, "POST", {}, 10)) is None
    assert decision.precheck(req(decision, "GET", {}, 11)) is None
    too_large = decision.precheck(req(decision, "POST", {"origin": ORIGIN}, 11))
    assert too_large is not None
    assert too_large.status == 413
    assert ("Access-Control-Allow-Origin", ORIGIN) in too_large.headers


def test_a_head_answer_to_a_timeout_has_no_body() -> None:
    decision = _decision()
    answers = []
    for method in ("GET", "HEAD"):
        try:
            raise ResolverTimeoutError("took longer than 1 seconds")
        except ResolverTimeoutError:
            answers.append(decision.failed(req(decision, method, {})))
    assert answers[0].status == 503
    assert answers[0].body
    assert (answers[1].status, answers[1].body) == (503, b"")


# -- Log lines, word for word -------------------------------------------------------------------------


def test_an_invalid_user_id_is_logged_with_why(caplog: pytest.LogCaptureFixture) -> None:
    assert _decision().answer(req(_decision(), "GET", {}), 1.5)[0].status == 500
    assert [r.getMessage() for r in _records(caplog)] == [
        "The resolver returned an invalid Rollout user id: "
        "user id must be a non-empty str, an int or a UUID, not float"
    ]


def test_a_raising_resolver_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    decision = _decision()
    try:
        raise LookupError("no session store")
    except LookupError:
        assert decision.failed(req(decision, "GET", {})).status == 500
    [record] = _records(caplog)
    assert record.getMessage() == "The Rollout user resolver raised an exception"
    assert record.exc_info is not None


def test_a_raising_hook_is_logged_and_the_token_served(caplog: pytest.LogCaptureFixture) -> None:
    def hook(user: str, expires_at: int, info: RequestInfo) -> None:
        raise LookupError("audit store down")

    decision = _decision(on_issue=hook)
    answer = decision.respond(req(decision, "GET"), "ada")
    assert answer.status == 200
    [record] = _records(caplog)
    assert record.getMessage() == (
        "The Rollout on_issue hook raised an exception; the token was served"
    )
    assert record.exc_info is not None


def test_a_short_secret_is_logged_with_the_client_id(caplog: pytest.LogCaptureFixture) -> None:
    client_id = f"short-{uuid.uuid4()}"  # the warning is once per client id and process
    caplog.set_level(logging.WARNING, logger="rollout_middleware")
    TokenIssuer(client_id, "short")
    assert [r.getMessage() for r in _records(caplog)] == [
        f"The Rollout client secret for client id {client_id!r} is 5 bytes; PyJWT recommends at "
        "least 64 for HS512. Rollout chooses the secret, so tokens are signed with it as it is. "
        "This is logged once per client id."
    ]


# -- Where sync callables run --------------------------------------------------------------------------


def _threads_of_concurrent_calls(
    thread_sensitive: bool | None, wait: Callable[[], object] = lambda: time.sleep(0.05)
) -> set[int]:
    """The threads that ran three concurrent calls of a sync callable that ``wait``s."""
    seen: set[int] = set()

    def record_thread() -> None:
        seen.add(threading.get_ident())
        wait()

    if thread_sensitive is None:
        call = as_async(record_thread, False)
    else:
        call = as_async(record_thread, False, thread_sensitive=thread_sensitive)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(call)

    anyio.run(main)
    return seen


@pytest.mark.parametrize("thread_sensitive", [None, False])
def test_sync_callables_run_on_many_worker_threads_by_default(
    thread_sensitive: bool | None,
) -> None:
    all_three_at_once = threading.Barrier(3, timeout=5)  # broken if the calls take turns
    assert len(_threads_of_concurrent_calls(thread_sensitive, all_three_at_once.wait)) == 3


def test_thread_sensitive_runs_every_call_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh one for this test: a process forked after the shared one started its thread (as a
    # mutation run forks for each mutant) inherits an executor whose thread is gone, and hangs.
    with ThreadPoolExecutor(max_workers=1) as executor:
        monkeypatch.setattr(SyncToAsync, "single_thread_executor", executor)
        threads = _threads_of_concurrent_calls(thread_sensitive=True)
    assert len(threads) == 1
    assert threading.get_ident() not in threads


def test_a_cancelled_caller_abandons_a_blocked_worker_thread() -> None:
    """A resolver timeout must not wait for a sync resolver stuck in its thread."""
    release, finished = threading.Event(), threading.Event()

    def blocked() -> None:
        release.wait(5)  # not abandoned: the caller waits these 5 s
        finished.set()

    async def main() -> bool:
        with anyio.move_on_after(0.05):
            await as_async(blocked, False)()
        return finished.is_set()  # back while the thread still waits

    try:
        assert anyio.run(main) is False
    finally:
        release.set()


def test_thread_sensitive_on_trio_says_why_and_how_to_fix() -> None:
    pytest.importorskip("trio", reason="trio is in the test extra")
    with pytest.raises(ConfigurationError) as caught:
        anyio.run(as_async(_resolver, False, thread_sensitive=True), None, backend="trio")
    assert str(caught.value) == THREAD_SENSITIVE_NEEDS_ASYNCIO


def test_a_sync_hook_runs_on_trio_by_default() -> None:
    pytest.importorskip("trio", reason="trio is in the test extra")
    issued: list[str] = []
    decision = _decision(on_issue=lambda user, expires_at, info: issued.append(user))
    answer = anyio.run(decision.respond_async, req(decision, "GET"), "ada", backend="trio")
    assert (answer.status, issued) == (200, ["ada"])


def test_a_thread_sensitive_hook_on_trio_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("trio", reason="trio is in the test extra")
    settings = _config.build(
        "t",
        {
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "on_issue": lambda *args: None,
            "thread_sensitive": True,
        },
        _config.ANSWER_OPTIONS | {"thread_sensitive"},
    )
    decision = TokenDecision(settings)
    for _ in range(2):
        answer = anyio.run(decision.respond_async, req(decision, "GET"), "ada", backend="trio")
        assert answer.status == 200
    assert [r.getMessage() for r in _records(caplog)] == [
        "The Rollout token endpoint is misconfigured (its on_issue hook raised): "
        f"{THREAD_SENSITIVE_NEEDS_ASYNCIO}. Tokens are served, but the hook does not run until "
        "this is fixed; this is logged once."
    ]


# -- start(): the sequence without a coroutine of its own ---------------------------------------


def test_start_answers_at_once_when_nothing_waits() -> None:
    decision = _decision()

    async def at_once() -> str:
        return "user-1"

    answer = decision.start(req(decision, "GET", {}), at_once)
    assert isinstance(answer, Answer)
    assert answer.status == 200
    refused = decision.start(req(decision, "GET", {"sec-fetch-site": "cross-site"}), at_once)
    assert isinstance(refused, Answer)
    assert refused.status == 403


def test_start_gives_an_awaitable_when_something_waits() -> None:
    async def waits() -> str:
        await asyncio.sleep(0)
        return "user-1"

    async def body() -> Any:
        yield b"x"

    hooked: list[str] = []

    async def hook(user_id: str, expires_at: int, info: RequestInfo) -> None:
        hooked.append(user_id)

    async def at_once() -> str:
        return "user-2"

    plain, posting, with_hook = _decision(), _decision(methods=("POST",)), _decision(on_issue=hook)

    async def main() -> list[Answer | None]:
        started = [
            plain.start(req(plain, "GET", {}), waits),
            posting.start(req(posting, "POST", {}), at_once, body()),
            with_hook.start(req(with_hook, "GET", {}), at_once),
        ]
        assert not any(isinstance(answer, Answer) for answer in started)
        return [await answer for answer in started]  # type: ignore[misc]  # not Answers, as asserted

    answers = asyncio.run(main())
    assert [answer.status for answer in answers if answer is not None] == [200, 200, 200]
    assert hooked == ["user-2"]
