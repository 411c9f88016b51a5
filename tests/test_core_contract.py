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
from rollout_middleware.decision import Answer, TokenRequest
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


#: Each option's rule, word for word, and the option its error names (what Django's checks and
#: Flask's extension map to their own setting names).
OPTION_ERRORS: dict[str, tuple[Callable[[], object], str, str]] = {
    "path of another type": (
        lambda: _decision(path=5),
        "path must be a str that starts with '/' and holds no whitespace, '?' or '#', got 5",
        "path",
    ),
    "path with a query": (
        lambda: _decision(path="/t?x"),
        "path must be a str that starts with '/' and holds no whitespace, '?' or '#', got '/t?x'",
        "path",
    ),
    "methods as str": (
        lambda: _decision(methods="GET"),
        "methods must be a sequence such as ('GET',), got 'GET'",
        "methods",
    ),
    "a lower-case method": (
        lambda: _decision(methods=("get",)),
        "each method must be an upper-case HTTP method name, got 'get'",
        "methods",
    ),
    "a method that is no token": (
        lambda: _decision(methods=("GE T",)),
        "each method must be an upper-case HTTP method name, got 'GE T'",
        "methods",
    ),
    "a method of another type": (
        lambda: _decision(methods=(1,)),
        "each method must be an upper-case HTTP method name, got 1",
        "methods",
    ),
    "an origin of another type": (
        lambda: _decision(allowed_origins=(5,)),
        "each allowed origin must be 'scheme://host[:port]' with no path, no trailing '/' "
        "and no wildcard, got 5",
        "allowed_origins",
    ),
    "a negative body size": (
        lambda: _decision(max_body_size=-1),
        "max_body_size must be a whole number, 0 or more, got -1",
        "max_body_size",
    ),
    "a body size of True": (
        lambda: _decision(max_body_size=True),
        "max_body_size must be a whole number, 0 or more, got True",
        "max_body_size",
    ),
    "a zero timeout": (
        lambda: shell_settings("Shell", _resolver, "/t", {"resolver_timeout": 0}),
        "resolver_timeout must be a positive number of seconds or None, got 0",
        "resolver_timeout",
    ),
    "an endless timeout": (
        lambda: shell_settings("Shell", _resolver, "/t", {"resolver_timeout": float("inf")}),
        "resolver_timeout must be a positive number of seconds or None, got inf",
        "resolver_timeout",
    ),
    "a timeout of True": (
        lambda: shell_settings("Shell", _resolver, "/t", {"resolver_timeout": True}),
        "resolver_timeout must be a positive number of seconds or None, got True",
        "resolver_timeout",
    ),
    "a hook that is no callable": (
        lambda: _decision(on_issue=5),
        "on_issue must be a callable (user_id, expires_at, request_info) or None, got int",
        "on_issue",
    ),
    "a client id of another type": (
        lambda: TokenDecision.build(client_id=5),  # type: ignore[arg-type]
        "the Rollout client id must be a str, got int",
        "client_id",
    ),
    "a blank client id": (
        lambda: TokenIssuer("  ", SECRET),
        "the Rollout client id is empty",
        "client_id",
    ),
    "a secret of another type": (
        lambda: TokenDecision.build(client_id=CLIENT_ID, client_secret=5),
        "the Rollout client secret must be a str, bytes or a SecretStr, got int",
        "client_secret",
    ),
    "an empty secret": (
        lambda: TokenIssuer(CLIENT_ID, b""),
        "the Rollout client secret is empty",
        "client_secret",
    ),
    "ttl of 0": (
        lambda: TokenIssuer(CLIENT_ID, SECRET, ttl=0),
        "ttl must be a whole number of seconds from 1 to 3600, got 0",
        "ttl",
    ),
    "ttl past an hour": (
        lambda: _decision(ttl=3601),
        "ttl must be a whole number of seconds from 1 to 3600, got 3601",
        "ttl",
    ),
    "ttl of True": (
        lambda: _decision(ttl=True),
        "ttl must be a whole number of seconds from 1 to 3600, got True",
        "ttl",
    ),
    "ttl as text": (
        lambda: _config.parse_text("ttl", "15m"),
        "ttl must be a whole number, got '15m'",
        "ttl",
    ),
    "a body size as text": (
        lambda: _config.parse_text("max_body_size", "1k"),
        "max_body_size must be a whole number, got '1k'",
        "max_body_size",
    ),
    "a timeout as text": (
        lambda: _config.parse_text("resolver_timeout", "soon"),
        "resolver_timeout must be a number of seconds or 'none', got 'soon'",
        "resolver_timeout",
    ),
    "no credentials": (
        lambda: _config.Credentials(client_id=" ", client_secret="", environ={}).issuer(),
        "the Rollout credentials are missing: set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET",
        "client_id",
    ),
    "no secret": (
        lambda: _config.Credentials(client_id=CLIENT_ID, environ={}).issuer(),
        "the Rollout credentials are missing: set ROLLOUT_CLIENT_SECRET",
        "client_secret",
    ),
}


@pytest.mark.parametrize("case", OPTION_ERRORS)
def test_each_option_error_word_for_word_naming_its_option(case: str) -> None:
    build, message, option = OPTION_ERRORS[case]
    with pytest.raises(ConfigurationError) as caught:
        build()
    assert (str(caught.value), caught.value.option) == (message, option)


def test_settings_text_is_parsed_as_the_environment_is() -> None:
    parse = _config.parse_text
    assert parse("methods", " GET, ,POST ") == ("GET", "POST")
    assert parse("allowed_origins", ORIGIN) == (ORIGIN,)
    assert parse("ttl", " 900 ") == 900
    assert parse("max_body_size", "0") == 0
    assert [parse("resolver_timeout", t) for t in ("", " None ", "2.5")] == [None, None, 2.5]
    assert parse("path", " /t ") == " /t "  # text options are the text, checked by their rule


def test_credentials_fall_back_to_the_environment_one_by_one() -> None:
    from rollout_middleware.tokens import credentials

    env = {"ROLLOUT_CLIENT_ID": "env-id", "ROLLOUT_CLIENT_SECRET": "env-secret"}
    assert credentials(None, None, env) == ("env-id", "env-secret")
    assert credentials("", b"", env) == ("env-id", "env-secret")
    assert credentials("given", "s", env) == ("given", "s")
    assert credentials("given", None, env) == ("given", "env-secret")
    assert credentials(None, b"raw", env) == ("env-id", b"raw")
    with pytest.raises(ConfigurationError, match=r"set ROLLOUT_CLIENT_SECRET$"):
        credentials("given", None, {"ROLLOUT_CLIENT_SECRET": "   "})
    with pytest.raises(ConfigurationError, match=r"set ROLLOUT_CLIENT_ID$") as caught:
        credentials(None, "s", {})
    assert caught.value.option == "client_id"


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


# -- The body and the sequence's plumbing (each kills a mutant of ``nox -s mutation``) -----------


class _Body:
    """A body iterator that says how far it was read and whether it was closed."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks, self.read, self.closed = list(chunks), 0, False

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        if not self.chunks:
            raise StopIteration
        self.read += 1
        return self.chunks.pop(0)

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self)
        except StopIteration:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def test_raw_headers_are_read_past_the_ones_the_core_ignores() -> None:
    decision = _decision(allowed_origins=(ORIGIN,))
    pairs = [(b"host", b"testserver"), (b"origin", ORIGIN.encode()), (b"cookie", b"s=1")]
    request = decision.request("GET", pairs)
    assert request.headers == {"origin": ORIGIN}
    assert request.cors[0] == ("Access-Control-Allow-Origin", ORIGIN)
    assert decision.request("GET", [("Host", "x"), ("Origin", ORIGIN)]).headers == {
        "origin": ORIGIN
    }


def test_a_body_is_counted_only_for_methods_with_one_and_closed_once_read() -> None:
    decision = _decision(methods=("GET", "POST"), max_body_size=3, allowed_origins=(ORIGIN,))
    unread = _Body(b"abcd")
    assert decision.check_body(req(decision, "GET", {}), unread) is None
    assert (unread.read, unread.closed) == (0, False)
    assert decision.check_body(req(decision, "POST", {}), None) is None
    small, large = _Body(b"ab", b"c"), _Body(b"ab", b"cd", b"ef")
    assert decision.check_body(req(decision, "POST", {}), small) is None
    assert (small.read, small.closed) == (2, True)
    too_large = decision.check_body(req(decision, "POST", {"origin": ORIGIN}), large)
    assert too_large is not None
    assert too_large.status == 413
    assert ("Access-Control-Allow-Origin", ORIGIN) in too_large.headers
    assert (large.read, large.closed) == (2, True)  # left at the first chunk past the limit


def test_an_async_body_is_counted_only_for_methods_with_one_and_closed_once_read() -> None:
    decision = _decision(methods=("GET", "POST"), max_body_size=3, allowed_origins=(ORIGIN,))

    async def main() -> None:
        unread = _Body(b"abcd")
        assert await decision.check_body_async(req(decision, "GET", {}), unread) is None
        assert (unread.read, unread.closed) == (0, False)
        assert await decision.check_body_async(req(decision, "POST", {}), None) is None
        small, large = _Body(b"ab", b"c"), _Body(b"ab", b"cd", b"ef")
        assert await decision.check_body_async(req(decision, "POST", {}), small) is None
        assert (small.read, small.closed) == (2, True)
        request = req(decision, "POST", {"origin": ORIGIN})
        too_large = await decision.check_body_async(request, large)
        assert too_large is not None
        assert too_large.status == 413
        assert ("Access-Control-Allow-Origin", ORIGIN) in too_large.headers
        assert (large.read, large.closed) == (2, True)

    asyncio.run(main())


def test_handle_async_reads_the_body_and_lets_passthrough_exceptions_out() -> None:
    decision = _decision(methods=("GET", "POST"), max_body_size=3)

    class Refused(Exception):
        pass

    async def refuses() -> str:
        raise Refused

    async def user() -> str:
        return "ada"

    async def main() -> None:
        too_large = await decision.handle_async(req(decision, "POST", {}), user, _Body(b"abcd"))
        assert too_large is not None
        assert too_large.status == 413
        unread = _Body(b"abcd")  # GET: the body is not the core's to count
        served = await decision.handle_async(req(decision, "GET", {}), user, unread)
        assert served is not None
        assert served.status == 200
        assert unread.read == 0
        for method, body in (("GET", None), ("POST", _Body(b"ab"))):
            with pytest.raises(Refused):
                await decision.handle_async(
                    req(decision, method, {}), refuses, body, passthrough=(Refused,)
                )

    asyncio.run(main())


def test_a_request_with_a_body_is_prechecked_once() -> None:
    class Counting(TokenDecision):
        __slots__ = ("prechecks",)

        def precheck(self, request: TokenRequest) -> Answer | None:
            self.prechecks += 1
            return super().precheck(request)

    decision = Counting(_decision(methods=("POST",), allowed_origins=(ORIGIN,)).settings)
    decision.prechecks = 0

    async def user() -> str:
        return "ada"

    request = req(decision, "POST", {"origin": ORIGIN}, content_length=2)
    answer = asyncio.run(decision.handle_async(request, user, _Body(b"ab")))
    assert answer is not None
    assert answer.status == 200
    assert decision.prechecks == 1


def test_a_503_without_credentials_keeps_the_cors_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    decision = TokenDecision.build(allowed_origins=(ORIGIN,))
    answer = decision.answer(req(decision, "GET", {"origin": ORIGIN}), "ada")[0]
    assert answer.status == 503
    assert ("Access-Control-Allow-Origin", ORIGIN) in answer.headers


def test_a_cross_site_refusal_is_logged_with_the_origin(caplog: pytest.LogCaptureFixture) -> None:
    decision = _decision()
    with caplog.at_level(logging.INFO, logger="rollout_middleware"):
        refused = decision.precheck(
            req(decision, "GET", {"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
        )
    assert refused is not None
    assert refused.status == 403
    assert [r.getMessage() for r in caplog.records if r.name == "rollout_middleware"] == [
        "Refused a cross-site request for a Rollout token at /rollout-token (Origin: "
        "'https://evil.example'): a page of another origin may fetch a token only if "
        "allowed_origins (ROLLOUT_ALLOWED_ORIGINS) lists its origin"
    ]


def test_read_stream_reads_at_most_one_byte_past_the_limit() -> None:
    import io

    from rollout_middleware.decision import read_stream

    def reads(length: int | None, limit: int, data: bytes = b"x" * 100) -> int:
        stream = io.BytesIO(data)
        return sum(len(chunk) for chunk in read_stream(stream.read, length, limit))

    assert reads(None, 10) == 11  # chunked: to the limit, and one byte to tell it is past
    assert reads(5, 10) == 5  # declared: no more than declared
    assert reads(50, 10) == 11
    assert reads(0, 10) == 0
    assert reads(None, 10, b"") == 0


def test_a_body_without_close_is_counted_too() -> None:
    """Any iterable will do: ``close``/``aclose`` are called only where they exist."""
    decision = _decision(methods=("POST",), max_body_size=3)

    class Chunks:
        def __init__(self, *chunks: bytes) -> None:
            self.chunks = iter(chunks)

        def __aiter__(self) -> Chunks:
            return self

        async def __anext__(self) -> bytes:
            for chunk in self.chunks:
                return chunk
            raise StopAsyncIteration

    assert decision.check_body(req(decision, "POST", {}), [b"ab", b"c"]) is None
    too_large = asyncio.run(decision.check_body_async(req(decision, "POST", {}), Chunks(b"abcd")))
    assert too_large is not None
    assert too_large.status == 413
    assert asyncio.run(decision.check_body_async(req(decision, "POST", {}), Chunks(b"a"))) is None


def test_a_request_without_a_path_or_client_has_none() -> None:
    request = _decision().request("GET", [])
    assert (request.path, request.client, request.content_length) == ("", None, None)
    assert request.info == {"method": "GET", "path": "", "client": None}


#: The option each ``ERRORS`` case names (none for an error that is about no option).
OPTION_OF = {
    "pem secret": "client_secret",
    "from_env without id": "client_id",
    "from_env without secret": "client_secret",
    "generate_token without either": "client_id",
    "credentials without id": "client_id",
    "path": "path",
    "OPTIONS method": "methods",
    "no method": "methods",
    "origins as str": "allowed_origins",
    "origin with a path": "allowed_origins",
    "issuer of another type": "issuer",
    "issuer and ttl": "issuer",
    "issuer and client_id": "issuer",
    "issuer and client_secret": "issuer",
    "resolver": "resolve_user",
    "thread_sensitive": "thread_sensitive",
}


@pytest.mark.parametrize("case", ERRORS)
def test_each_configuration_error_names_its_option(case: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ERRORS[case][0]()
    assert caught.value.option == OPTION_OF.get(case)


def test_a_uuid_is_a_user_id_and_a_subclass_of_one_is_not() -> None:
    class Tagged(uuid.UUID):
        def __str__(self) -> str:
            return "tagged"

    assert user_id_to_subject(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    with pytest.raises(InvalidUserIdError):
        user_id_to_subject(Tagged(int=1))


def test_the_secret_shows_in_no_repr() -> None:
    from rollout_middleware.tokens import Secret

    assert repr(Secret(SECRET)) == "Secret('**********')"


def test_an_empty_text_secret_falls_back_to_the_environment() -> None:
    from rollout_middleware.tokens import credentials

    env = {"ROLLOUT_CLIENT_ID": "env-id", "ROLLOUT_CLIENT_SECRET": "env-secret"}
    assert credentials("", "", env) == ("env-id", "env-secret")


def test_build_gives_the_path_default_only_to_what_takes_a_path() -> None:
    shell = _config.build("Shell", {"resolve_user": _resolver}, _config.SHELL_OPTIONS)
    assert shell.path == "/rollout-token"
    assert _config.build("TokenDecision.build", {}).path is None


def test_build_reads_the_environment_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    env = {"ROLLOUT_CLIENT_ID": "from-given-env", "ROLLOUT_CLIENT_SECRET": SECRET}
    settings = _config.build("X", {"ttl": 60}, environ=env)
    issuer = settings.credentials.issuer()
    assert (issuer.client_id, issuer.ttl) == ("from-given-env", 60)


def test_given_credentials_make_the_issuer_at_once(caplog: pytest.LogCaptureFixture) -> None:
    """A short secret is logged where the app is built, not at its first token request."""
    client_id = f"short-{uuid.uuid4()}"
    caplog.set_level(logging.WARNING, logger="rollout_middleware")
    TokenDecision.build(client_id=client_id, client_secret="short")
    assert len(_records(caplog)) == 1
    assert client_id in _records(caplog)[0].getMessage()


def test_check_keywords_checks_names_and_values_now() -> None:
    assert _config.check_keywords("init_app", {"ttl": 60, "path": "/t"}, {"ttl", "path"}) == {
        "ttl": 60,
        "path": "/t",
    }
    with pytest.raises(TypeError, match=r"^init_app\(\) got an unexpected keyword argument 'ttls'"):
        _config.check_keywords("init_app", {"ttls": 60}, {"ttl", "path"})
    with pytest.raises(ConfigurationError, match=r"^ttl must be"):
        _config.check_keywords("init_app", {"ttl": 0}, {"ttl"})


def _source(where: str, values: dict[str, object]) -> tuple[str, Callable[[str], object]]:
    """A settings source that, as Django's settings and Flask's config, is read by setting name."""
    return where, lambda name: values.get(name.upper())


def test_read_takes_keywords_then_each_source_in_order() -> None:
    first = _source("app.config", {"ROLLOUT_TOKEN_TTL": "60", "ROLLOUT_CLIENT_ID": "cfg-id"})
    second = _source(
        "the environment",
        {"ROLLOUT_TOKEN_TTL": "120", "ROLLOUT_TOKEN_METHODS": "GET,POST", "ROLLOUT_CLIENT_ID": "x"},
    )
    settings = _config.read(
        "Ext", {"max_body_size": 5}, [first, second], _config.ANSWER_OPTIONS | {"resolve_user"}
    )
    assert settings.max_body_size == 5
    assert settings.methods == frozenset({"GET", "HEAD", "POST"})
    assert repr(settings.credentials) == "Credentials(client_id='cfg-id', ttl=60)"
    # The credentials are never read from the environment as a source (the issuer reads them).
    env_only = _config.read("Ext", {}, [second], _config.ANSWER_OPTIONS)
    assert repr(env_only.credentials) == "Credentials(client_id=None, ttl=120)"
    later = _config.read(
        "Ext", {}, [second, _source("app.config", {"ROLLOUT_CLIENT_ID": "cfg"})], {"client_id"}
    )
    assert repr(later.credentials) == "Credentials(client_id='cfg', ttl=900)"


def test_read_names_the_setting_an_error_came_from() -> None:
    source = [_source("app.config", {"ROLLOUT_TOKEN_TTL": "15m", "ROLLOUT_MAX_BODY_SIZE": "1k"})]
    with pytest.raises(ConfigurationError) as caught:
        _config.read("Ext", {}, source, _config.ANSWER_OPTIONS)
    assert str(caught.value) == (
        "ROLLOUT_MAX_BODY_SIZE (app.config): max_body_size must be a whole number, got '1k'"
    )
    assert caught.value.option == "max_body_size"
    ranged = [_source("app.config", {"ROLLOUT_TOKEN_TTL": 0})]
    with pytest.raises(ConfigurationError) as caught:
        _config.read("Ext", {}, ranged, _config.ANSWER_OPTIONS)
    assert str(caught.value) == (
        "ROLLOUT_TOKEN_TTL (app.config): ttl must be a whole number of seconds from 1 to 3600, "
        "got 0"
    )
    assert caught.value.option == "ttl"
    with pytest.raises(ConfigurationError) as caught:  # a keyword's error has no setting's name
        _config.read("Ext", {"ttl": 0}, ranged, _config.ANSWER_OPTIONS)
    assert str(caught.value).startswith("ttl must be")
    with pytest.raises(TypeError, match=r"^Ext\(\) got an unexpected keyword argument 'tll'"):
        _config.read("Ext", {"tll": 0}, ranged, _config.ANSWER_OPTIONS)


def test_settings_import_a_dotted_path_for_the_issuer_and_the_hook() -> None:
    source = [
        _source(
            "settings",
            {
                "ROLLOUT_ON_ISSUE": "tests.test_core_contract:_resolver",
                "ROLLOUT_TOKEN_PATH": "/t",
                "ROLLOUT_CLIENT_ID": "id-as-text",
            },
        )
    ]
    settings = _config.read("Ext", {}, source, _config.ANSWER_OPTIONS | {"path"})
    assert (settings.on_issue, settings.path) == (_resolver, "/t")
    missing = [_source("settings", {"ROLLOUT_ISSUER": "tests.nowhere:issuer"})]
    with pytest.raises(ConfigurationError) as caught:
        _config.read("Ext", {}, missing, _config.ANSWER_OPTIONS)
    assert str(caught.value).startswith(
        "ROLLOUT_ISSUER (settings): cannot import 'tests.nowhere:issuer': No module named"
    )
    assert caught.value.option == "issuer"
    given = [_source("settings", {"ROLLOUT_TOKEN_TTL": 60, "ROLLOUT_ISSUER": None})]
    assert repr(_config.read("Ext", {}, given, {"ttl"}).credentials).endswith("ttl=60)")


def test_add_cors_merges_vary_and_sets_the_rest() -> None:
    from rollout_middleware.decision import add_cors

    cors = req(_decision(allowed_origins=(ORIGIN,)), "GET", {"origin": ORIGIN}).cors
    fresh: dict[str, str] = {}
    add_cors(fresh, cors)
    assert fresh == dict(cors)
    accept = {"Vary": "Accept"}
    add_cors(accept, cors)
    assert accept["Vary"] == "Accept, Origin"
    already = {"Vary": "Accept, origin"}
    add_cors(already, cors)
    assert already["Vary"] == "Accept, origin"
    untouched = {"Vary": "Accept"}
    add_cors(untouched, ())
    assert untouched == {"Vary": "Accept"}


def test_issue_values_are_the_fields_of_issue() -> None:
    issuer = TokenIssuer(CLIENT_ID, SECRET, ttl=60, clock=lambda: 1000.7)
    issued = issuer.issue("ada")
    assert issuer.issue_values("ada") == (issued.token, "ada", 1060, 60)
    assert (issued.subject, issued.expires_at, issued.expires_in) == ("ada", 1060, 60)
    token, issued_too = _decision().answer(req(_decision(), "GET", {}), "ada")
    assert issued_too is not None
    assert issued_too.subject == "ada"
    assert token.body.startswith(b'{"token":"' + issued_too.token.encode())


def test_add_cors_reads_every_vary_line_and_leaves_the_apps_cors_alone() -> None:
    from aiohttp import web
    from werkzeug.datastructures import Headers

    from rollout_middleware.decision import add_cors

    cors = req(_decision(allowed_origins=(ORIGIN,)), "GET", {"origin": ORIGIN}).cors
    lines = Headers([("Vary", "Accept"), ("Vary", "Cookie")])
    add_cors(lines, cors)
    assert lines.getlist("Vary") == ["Accept, Cookie, Origin"]
    multi = web.HTTPUnauthorized().headers
    multi.add("Vary", "Accept")
    multi.add("Vary", "Cookie")
    add_cors(multi, cors)
    assert multi.getall("Vary") == ["Accept, Cookie, Origin"]
    bare = web.HTTPUnauthorized().headers  # no Vary yet: getall() must not raise
    add_cors(bare, cors)
    assert bare.getall("Vary") == ["Origin"]
    for kept in ("*", "X-Forwarded-Origin, origin", "Accept,Origin"):
        headers = {"Vary": kept}
        add_cors(headers, cors)
        assert headers["Vary"] == kept
    other = {"Vary": "X-Forwarded-Origin"}
    add_cors(other, cors)
    assert other["Vary"] == "X-Forwarded-Origin, Origin"
    apps_own = {"Access-Control-Allow-Origin": "*"}
    add_cors(apps_own, cors)
    assert apps_own == {"Access-Control-Allow-Origin": "*"}


def test_a_subclass_that_overrides_issue_is_called_by_the_decision() -> None:
    calls: list[object] = []

    class Audited(TokenIssuer):
        def issue(self, user_id: object) -> Any:
            calls.append(user_id)
            return super().issue(user_id)

    issuer = Audited(CLIENT_ID, SECRET)
    decision = TokenDecision.build(issuer=issuer)
    assert decision.start(req(decision, "GET", {}), _async_ada).status == 200  # type: ignore[union-attr]
    assert decision.respond(req(decision, "GET", {}), "ada").status == 200
    assert calls == ["ada", "ada"]
    values = issuer.issue_values("grace")
    assert values[1:] == ("grace", values[2], 900)
    assert calls == ["ada", "ada", "grace"]


async def _async_ada() -> str:
    return "ada"
