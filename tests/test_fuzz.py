"""Hostile input against both shells, with hypothesis: thousands of requests each.

Each example builds a middleware (configured path, methods, allowed origins, body limit, hook) and
one request (scope type, raw path under a mount, method, headers, cookies, query string, body,
early disconnect), with a resolver that returns any object, reads the request's own header, or
raises. The ASGI shell is called directly with a hand-built scope and a recording ``send``; the
WSGI shell with a hand-built environ, under ``wsgiref.validate.validator``.

Invariants, for every example:

- nothing raises out of the middleware;
- the answer is well formed: exactly one start, then the body; ``Content-Length`` is the body's
  length (a ``HEAD`` or ``204`` answer has no body);
- a request that is not for the token path reaches the app with the very same scope (or environ),
  unchanged, its body unread;
- an answer on the token path is one of the documented ones, ``no-store``; a 200 carries a valid
  token whose ``sub`` is exactly what the resolver returned for this request; cross-site requests
  from unlisted origins never get one; CORS headers go to listed origins only;
- the secret is in no answer, header or log record, and the token is in no log record.

``ROLLOUT_FUZZ_EXAMPLES`` sets the examples per shell (default 2500: about 15 s in all on a
2-core machine); ``ROLLOUT_FUZZ_EXAMPLES=20000`` is the long run quoted in docs/security.md.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import string
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import quote, unquote, unquote_to_bytes

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .drive import (
    APP_BODY,
    PassThroughASGI,
    PassThroughWSGI,
    Receiver,
    Recorded,
    Sender,
    asgi_scope,
    call_wsgi,
    captured_logs,
    formatted_records,
    middleware,
    unknown_methods_allowed,
    wsgi_environ,
)
from .support import SECRET, verify_token

EXAMPLES = int(os.environ.get("ROLLOUT_FUZZ_EXAMPLES", "2500"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PARTNER = "https://partner.example"
STATUSES = {200, 204, 401, 403, 405, 413, 500, 503}
CONFIGURED_METHODS = [("GET",), ("POST",), ("GET", "POST"), ("PUT", "GET"), ("GET", "POST", "PUT")]
TOKEN_PATHS = ["/rollout-token", "/api/v1/token", "/über/tökén"]
MOUNTS = ["", "/app", "/a b", "/ünï", "/rollout-token"]


class RaisingInt(int):
    def __int__(self) -> int:
        raise RuntimeError("__int__ called")

    def __str__(self) -> str:
        raise RuntimeError("__str__ called")


class Weird:
    """An object whose every conversion raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr called")

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq called")

    __hash__ = None  # type: ignore[assignment]


def expected_subject(value: object) -> str | None:
    """The ``sub`` a user id must give, or None if it must be refused (an independent oracle)."""
    if type(value) is str or (isinstance(value, str) and issubclass(type(value), str)):
        text = str.__str__(value)
    elif isinstance(value, int) and issubclass(type(value), int) and not isinstance(value, bool):
        if abs(value) >= 10**256:
            return None
        text = int.__repr__(value)
    else:
        return None
    if not text.strip() or len(text) > 256:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


user_values = st.one_of(
    st.none(),
    st.integers(),
    st.integers(min_value=10**255, max_value=10**300),
    st.text(max_size=40),
    st.text(min_size=250, max_size=270),
    st.sampled_from(["", "   ", "\x00", "\ud800", "alice", "ünïcödé", "a\nb", '"quoted"']),
    st.booleans(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.builds(RaisingInt, st.integers(-(10**6), 10**6)),
    st.builds(lambda: mock.Mock(spec=int)),
    st.builds(lambda: mock.MagicMock(spec=str)),
    st.builds(Weird),
    st.lists(st.integers(), max_size=2),
)
exceptions = st.sampled_from(
    [ValueError, KeyError, RuntimeError, LookupError, TimeoutError, PermissionError]
)

HEADER_NAMES = [
    "origin",
    "sec-fetch-site",
    "sec-fetch-mode",
    "cookie",
    "x-user",
    "authorization",
    "access-control-request-method",
    "access-control-request-headers",
    "accept",
    "content-type",
    "host",
]
HEADER_VALUES = [
    b"cross-site",
    b"same-origin",
    b"same-site",
    b"none",
    b"CROSS-SITE",
    b"",
    PARTNER.encode(),
    PARTNER.upper().encode(),
    b"https://evil.example",
    b"null",
    b"GET",
    b"POST",
    b"x-a, x-b",
    b"x\xe9, \xb2",
    b"\xff\xfe\x00\r\n",
    b"alice",
    SECRET[:20].encode(),
]
# Known names with telling values (one draw each), or anything at all.
headers_strategy = st.lists(
    st.one_of(
        st.sampled_from([(n.encode(), v) for n in HEADER_NAMES for v in HEADER_VALUES]),
        st.tuples(
            st.sampled_from([*HEADER_NAMES, "x-custom"]).map(str.encode), st.binary(max_size=40)
        ),
    ),
    max_size=6,
)
cookies = st.dictionaries(
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=8),
    st.text(alphabet=string.ascii_letters + string.digits + "%=/+", max_size=16),
    max_size=3,
).map(lambda d: "; ".join(f"{k}={v}" for k, v in d.items()).encode())
methods = st.one_of(
    st.sampled_from(["GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "get", "TRACE"]),
    st.text(alphabet=string.ascii_letters + "-!", min_size=1, max_size=8),
)


@dataclass
class Case:
    """One configuration and one request, the same for both shells."""

    token_path: str
    methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    max_body_size: int
    hook: str
    mount: str
    raw_path: bytes
    method: str
    headers: list[tuple[bytes, bytes]]
    query: bytes
    chunks: list[bytes]
    disconnect_after: int | None
    resolver: str
    resolver_async: bool
    value: Any
    exception: type[Exception]
    scope_type: str
    surrogates: bool
    hook_calls: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    token_path = draw(st.sampled_from(TOKEN_PATHS))
    quoted = quote(token_path).encode()
    raw_path = draw(
        st.one_of(
            st.just(quoted),
            st.sampled_from(
                [
                    quoted + b"/",
                    b"/" + quoted,
                    quoted.upper(),
                    quoted + b"%00",
                    quoted + b"%2F",
                    quoted.replace(b"-", b"%2D").replace(b"o", b"%6f"),
                    quoted + b";x=1",
                    b"/",
                    b"",
                ]
            ),
            st.binary(max_size=30).map(lambda b: b"/" + b),
            st.text(max_size=20).map(lambda t: quote(t, safe="/%").encode()),
            st.builds(lambda a, b: a + quoted + b, st.binary(max_size=6), st.binary(max_size=6)),
        )
    )
    headers = draw(headers_strategy)
    if draw(st.booleans()):
        headers.append((b"cookie", draw(cookies)))
    if draw(st.booleans()):
        headers.append((b"x-user", draw(st.text(max_size=12)).encode("utf-8", "surrogatepass")))
    chunks = draw(st.lists(st.binary(max_size=48), max_size=4))
    resolver = draw(st.sampled_from(["value", "header", "raise"]))
    return Case(
        token_path=token_path,
        methods=draw(st.sampled_from(CONFIGURED_METHODS)),
        allowed_origins=draw(st.sampled_from([(), (PARTNER,), (PARTNER, "http://localhost:3000")])),
        max_body_size=draw(st.integers(0, 120)),
        hook=draw(st.sampled_from(["none", "sync", "async", "failing"])),
        mount=draw(st.sampled_from(MOUNTS)),
        raw_path=raw_path,
        method=draw(methods),
        headers=headers,
        query=draw(st.binary(max_size=20)),
        chunks=chunks,
        disconnect_after=draw(st.one_of(st.none(), st.integers(0, 3))),
        resolver=resolver,
        resolver_async=draw(st.booleans()),
        value=draw(user_values) if resolver == "value" else None,
        exception=draw(exceptions),
        scope_type=draw(st.sampled_from(["http"] * 8 + ["websocket", "lifespan"])),
        surrogates=draw(st.booleans()),
    )


def make_resolver(case: Case, read_user: Any) -> Any:
    def resolve(request: Any) -> Any:
        if case.resolver == "raise":
            raise case.exception(f"resolver failed: {SECRET[:4]}-not-the-secret")
        if case.resolver == "header":
            return read_user(request)
        return case.value

    if not case.resolver_async:
        return resolve

    async def resolve_async(request: Any) -> Any:
        await asyncio.sleep(0)
        return resolve(request)

    return resolve_async


def make_hook(case: Case) -> Any:
    if case.hook == "none":
        return None

    def hook(*args: Any) -> None:
        case.hook_calls.append(args)
        if case.hook == "failing":
            raise RuntimeError("hook failed")

    if case.hook != "async":
        return hook

    async def hook_async(*args: Any) -> None:
        hook(*args)

    return hook_async


def build(shell: str, case: Case, read_user: Any, app: Any) -> Any:
    return middleware(
        shell,
        make_resolver(case, read_user),
        app,
        path=case.token_path,
        methods=case.methods,
        allowed_origins=case.allowed_origins,
        max_body_size=case.max_body_size,
        on_issue=make_hook(case),
        resolver_timeout=5,
    )


def check_well_formed(answer: Recorded, method: str) -> None:
    length = answer.header("content-length")
    if answer.status == 204 or method == "HEAD":
        assert answer.body == b""
    elif length is not None:
        assert int(length) == len(answer.body)
    if length is not None:
        assert length.isdigit()


def check_token_answer(case: Case, answer: Recorded, header: Any, request_user: str | None) -> None:
    """The answer on the token path: documented, no-store, and right about the user.

    ``header(name)`` is a request header as this shell's server passes it (latin-1 text).
    """
    assert answer.status in STATUSES, answer.status
    check_well_formed(answer, case.method)
    assert answer.header("cache-control") == "no-store"
    assert answer.header("content-length") is not None or answer.status == 204
    origin = header("origin")
    listed = origin is not None and origin.lower() in case.allowed_origins
    if answer.header("access-control-allow-origin") is not None:
        assert listed
        assert answer.header("access-control-allow-origin") == origin
        assert answer.header("access-control-allow-credentials") == "true"
        assert answer.header("vary") == "Origin"
    if header("sec-fetch-site") == "cross-site" and not listed:
        assert answer.status == 403
    if answer.status == 204:
        assert listed
        assert case.method == "OPTIONS"
        return
    if case.method != "HEAD":
        problem = json.loads(answer.body)
    expected_type = "application/json" if answer.status == 200 else "application/problem+json"
    assert answer.header("content-type") == expected_type
    if answer.status == 413:
        assert len(case.body) > case.max_body_size
    # Nothing here hangs, so nothing is a 503: a resolver's own TimeoutError is its failure, a 500.
    assert answer.status != 503
    if answer.status != 200:
        return
    assert case.method in case.methods or (case.method == "HEAD" and "GET" in case.methods)
    if case.method not in ("GET", "HEAD"):
        assert len(case.body) <= case.max_body_size
    assert case.resolver != "raise"
    wanted = expected_subject(request_user if case.resolver == "header" else case.value)
    assert wanted is not None
    if case.method != "HEAD":
        claims = verify_token(problem["token"])
        assert claims["sub"] == wanted
        assert problem["expires_at"] == claims["exp"]
    if case.hook != "none":
        # A HEAD answer delivers no token: the hook hears of delivered tokens only.
        delivered = [] if case.method == "HEAD" else [wanted]
        assert [call[0] for call in case.hook_calls] == delivered


def check_no_secret(answer: Recorded | None, records: list[Any]) -> None:
    text = formatted_records(records)
    assert SECRET not in text
    if answer is not None:
        assert SECRET not in answer.text
        if answer.header("content-type") == "application/json" and answer.body:
            assert json.loads(answer.body)["token"] not in text


# --- ASGI -------------------------------------------------------------------------------------


def asgi_user(scope: Any) -> Any:
    for name, value in scope["headers"]:
        if name == b"x-user":
            return value.decode("latin-1")
    return None


def decode_path(raw: bytes, surrogates: bool) -> str:
    """A server's ``path`` from the raw path: percent-decoded UTF-8."""
    if surrogates:
        return unquote_to_bytes(raw).decode("utf-8", "surrogateescape")
    return unquote(raw.decode("latin-1"))


def test_asgi_shell_survives_hostile_requests() -> None:
    loop = asyncio.new_event_loop()

    @FUZZ
    @given(case=cases())
    def check(case: Case) -> None:
        app = PassThroughASGI(run_lifespan=False)
        token_app = build("asgi", case, asgi_user, app)
        mount_raw = quote(case.mount).encode()
        path = decode_path(mount_raw + case.raw_path, case.surrogates)
        root_path = decode_path(mount_raw, case.surrogates)
        scope = asgi_scope(
            case.method,
            path,
            headers=case.headers,
            root_path=root_path,
            raw_path=mount_raw + case.raw_path,
            query_string=case.query,
        )
        scope["type"] = case.scope_type
        snapshot = copy.deepcopy(scope)
        receive = Receiver(case.chunks, disconnect_after=case.disconnect_after)
        send = Sender()
        with captured_logs() as logs:
            loop.run_until_complete(token_app(scope, receive, send))
        answer = send.answer()
        check_no_secret(answer, logs.records)
        relative = path[len(root_path) :] if path.startswith(root_path) else path
        owned = case.scope_type == "http" and relative == case.token_path
        if not owned:
            assert len(app.seen) == 1
            seen_scope, seen_receive, seen_send = app.seen[0]
            assert seen_scope is scope
            assert seen_receive is receive
            assert seen_send is send
            assert scope == snapshot
            if case.scope_type != "http":
                return
            if answer is None:  # the app saw the disconnect
                assert case.disconnect_after is not None
                return
            sent = case.body if case.disconnect_after is None else b""
            if case.disconnect_after is None:
                assert answer.body == APP_BODY + b" read %d" % len(sent)
            return
        assert app.seen == []
        if answer is None:
            assert case.disconnect_after is not None
            assert case.method not in ("GET", "HEAD")
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in case.headers}
        check_token_answer(case, answer, headers.get, asgi_user(scope))

    try:
        check()
    finally:
        loop.close()


# --- WSGI -------------------------------------------------------------------------------------


def wsgi_user(environ: Any) -> Any:
    return environ.get("HTTP_X_USER")


def test_wsgi_shell_survives_hostile_requests() -> None:
    @FUZZ
    @given(case=cases())
    def check(case: Case) -> None:
        if case.scope_type != "http":
            return  # WSGI has only HTTP requests
        app = PassThroughWSGI()
        token_app = build("wsgi", case, wsgi_user, app)
        script_name = case.mount
        path_info = unquote_to_bytes(case.raw_path).decode("latin-1")
        if path_info and not path_info.startswith("/"):
            path_info = "/" + path_info  # PEP 3333: PATH_INFO is empty or starts with '/'
        environ = wsgi_environ(
            case.method,
            path_info,
            script_name=script_name.encode().decode("latin-1"),
            headers=[(k.decode(), v.decode("latin-1")) for k, v in case.headers],
            query_string=case.query.decode("latin-1"),
            body=case.body,
        )
        environ_input = environ["wsgi.input"]
        snapshot = {k: v for k, v in environ.items() if not k.startswith("wsgi.")}
        with captured_logs() as logs, unknown_methods_allowed():
            answer = call_wsgi(token_app, environ)
        check_no_secret(answer, logs.records)
        owned = path_info == case.token_path.encode().decode("latin-1")
        if not owned:
            assert len(app.seen) == 1
            assert app.seen[0] is environ
            assert {k: v for k, v in environ.items() if not k.startswith("wsgi.")} == snapshot
            assert answer.body == APP_BODY + b" read %d" % len(case.body)
            return
        assert app.seen == []
        assert environ_input.bytes_read <= max(case.max_body_size, 0) or not case.body

        def header(name: str) -> str | None:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            return None if value is None else str(value)

        check_token_answer(case, answer, header, wsgi_user(environ))

    check()
