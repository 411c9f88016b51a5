"""The response contract, run against both shells: every test here runs for ASGI and for WSGI."""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import Any

import pytest

from rollout_middleware import ConfigurationError, TokenIssuer

from .shells import PASS_BODY, Shell, header_user
from .support import CLIENT_ID, SECRET, verify_token

ALICE = {"x-user": "alice"}
NO_STORE = {
    "cache-control": "no-store",
    "pragma": "no-cache",
    "x-content-type-options": "nosniff",
}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["content-length"]) == len(response.content)
    for name, value in NO_STORE.items():
        assert response.headers[name] == value
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert set(body) == {"type", "title", "status", "detail"}
    return body


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_token_answer(shell: Shell, is_async: bool) -> None:
    with shell.client(is_async=is_async) as client:
        response = client.get("/rollout-token", headers=ALICE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    for name, value in NO_STORE.items():
        assert response.headers[name] == value
    body = response.json()
    assert list(body) == ["token", "expires_at", "expires_in"]
    claims = verify_token(body["token"])
    assert claims["sub"] == "alice"
    assert body["expires_at"] == claims["exp"]
    assert body["expires_in"] == 900


def test_fresh_token_on_every_request(shell: Shell) -> None:
    ticks = iter(range(1_800_000_000, 1_800_000_010))
    issuer = TokenIssuer(CLIENT_ID, SECRET, clock=lambda: next(ticks))
    with shell.client(issuer=issuer, client_id=None, client_secret=None) as client:
        tokens = [client.get("/rollout-token", headers=ALICE).json()["token"] for _ in range(3)]
    assert len(set(tokens)) == 3


def test_int_user_id_becomes_string_sub(shell: Shell) -> None:
    with shell.client(lambda headers: 42) as client:
        token = client.get("/rollout-token").json()["token"]
    assert verify_token(token)["sub"] == "42"


def test_head_is_get_without_body(shell: Shell) -> None:
    with shell.client() as client:
        get = client.get("/rollout-token", headers=ALICE)
        head = client.head("/rollout-token", headers=ALICE)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])
def test_other_methods_get_405_with_allow(shell: Shell, method: str) -> None:
    with shell.client() as client:
        response = client.request(method, "/rollout-token", headers=ALICE)
    problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD"


def test_head_of_405_has_no_body(shell: Shell) -> None:
    with shell.client(methods=("POST",)) as client:
        response = client.head("/rollout-token", headers=ALICE)
    assert response.status_code == 405
    assert response.content == b""
    assert response.headers["allow"] == "POST"


def test_post_configured(shell: Shell) -> None:
    with shell.client(methods=("POST",)) as client:
        posted = client.post("/rollout-token", headers=ALICE, content=b'{"ignored": true}')
        got = client.get("/rollout-token", headers=ALICE)
    assert verify_token(posted.json()["token"])["sub"] == "alice"
    problem(got, 405)
    assert got.headers["allow"] == "POST"


def test_get_and_post_configured(shell: Shell) -> None:
    with shell.client(methods=("POST", "GET")) as client:
        for method in ("GET", "POST"):
            assert client.request(method, "/rollout-token", headers=ALICE).status_code == 200
        assert client.put("/rollout-token").headers["allow"] == "GET, HEAD, POST"


def test_no_user_is_401(shell: Shell) -> None:
    with shell.client() as client:
        response = client.get("/rollout-token")
        head = client.head("/rollout-token")
    problem(response, 401)
    assert "www-authenticate" not in response.headers
    assert head.status_code == 401
    assert head.content == b""


def test_resolver_exception_is_500_and_logged(
    shell: Shell, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(headers: dict[str, str]) -> Any:
        raise RuntimeError("database password is hunter2")

    caplog.set_level(logging.ERROR, logger="rollout_middleware")
    with shell.client(boom) as client:
        response = client.get("/rollout-token", headers=ALICE)
    body = problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    [record] = [r for r in caplog.records if r.name == "rollout_middleware"]
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])
    assert body["title"] == "Internal Server Error"


@pytest.mark.parametrize("bad", ["", "  ", 1.5, True, b"alice", "x" * 300])
def test_invalid_user_id_from_resolver_is_500(
    shell: Shell, bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rollout_middleware")
    with shell.client(lambda headers: bad) as client:
        problem(client.get("/rollout-token"), 500)
    assert any("invalid Rollout user id" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/rollout-token/",
        "/rollout-tokens",
        "/api/rollout-token",
        "/x/rollout-token",
        "/ROLLOUT-TOKEN",
    ],
)
def test_other_paths_pass_through(shell: Shell, path: str) -> None:
    with shell.client() as client:
        response = client.post(path, headers=ALICE)
    assert response.status_code == 299
    assert response.content == PASS_BODY + b" POST " + path.encode()
    assert response.headers["x-app"] == "yes"


def test_query_string_is_ignored(shell: Shell) -> None:
    with shell.client() as client:
        response = client.get("/rollout-token?user=mallory", headers=ALICE)
    assert verify_token(response.json()["token"])["sub"] == "alice"


def test_percent_encoded_path_matches_decoded(shell: Shell) -> None:
    with shell.client() as client:
        assert client.get("/rollout%2Dtoken", headers=ALICE).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/token", "/t", "/ünï/tøken"])
def test_custom_path(shell: Shell, path: str) -> None:
    with shell.client(path=path) as client:
        assert client.get(path, headers=ALICE).status_code == 200
        assert client.get("/rollout-token", headers=ALICE).status_code == 299


def test_under_a_mount(shell: Shell) -> None:
    with shell.client(mount="/app") as client:
        assert client.get("/app/rollout-token", headers=ALICE).status_code == 200
        passed = client.get("/app/other", headers=ALICE)
        assert passed.status_code == 299
        assert client.get("/app/app/rollout-token", headers=ALICE).status_code == 299


def test_under_a_nested_mount(shell: Shell) -> None:
    with shell.client(mount="/a/b", path="/tok") as client:
        assert client.get("/a/b/tok", headers=ALICE).status_code == 200
        assert client.get("/a/b/rollout-token", headers=ALICE).status_code == 299


def test_endpoint(shell: Shell) -> None:
    with shell.client(endpoint=True, path="/auth/rollout") as client:
        response = client.get("/auth/rollout", headers=ALICE)
        assert verify_token(response.json()["token"])["sub"] == "alice"
        problem(client.get("/auth/rollout"), 401)
        problem(client.delete("/auth/rollout", headers=ALICE), 405)
        assert client.get("/elsewhere").status_code == 299


class AsyncCallable:
    async def __call__(self, resolved: Any) -> Any:
        return "from-async-call"


class SyncCallable:
    def __call__(self, resolved: Any) -> Any:
        return "from-sync-call"


async def _async_with_prefix(prefix: str, resolved: Any) -> Any:
    return prefix + "-partial"


def _sync_with_prefix(prefix: str, resolved: Any) -> Any:
    return prefix + "-partial"


@pytest.mark.parametrize(
    ("resolve", "sub"),
    [
        (AsyncCallable(), "from-async-call"),
        (SyncCallable(), "from-sync-call"),
        (functools.partial(_async_with_prefix, "async"), "async-partial"),
        (functools.partial(_sync_with_prefix, "sync"), "sync-partial"),
    ],
    ids=["async-call", "sync-call", "async-partial", "sync-partial"],
)
def test_resolver_kinds(shell: Shell, resolve: Any, sub: str) -> None:
    with shell.client(resolve=resolve) as client:
        token = client.get("/rollout-token").json()["token"]
    assert verify_token(token)["sub"] == sub


def test_credentials_from_environment(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "env-client")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    with shell.client(client_id=None, client_secret=None) as client:
        token = client.get("/rollout-token", headers=ALICE).json()["token"]
    assert verify_token(token, client_id="env-client")["sub"] == "alice"


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({"client_id": None, "client_secret": None}, "ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET"),
        ({"client_id": "", "client_secret": ""}, "ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET"),
        ({"client_secret": None}, "ROLLOUT_CLIENT_SECRET"),
        ({"client_id": None}, "ROLLOUT_CLIENT_ID"),
    ],
)
def test_without_credentials_the_app_serves_and_a_token_request_is_503(
    shell: Shell,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
    missing: str,
) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    with shell.client(**options) as client:
        assert client.get("/elsewhere").content.startswith(PASS_BODY)
        response = client.get("/rollout-token", headers=ALICE)
        assert problem(response, 503)["detail"] == "Rollout tokens are not available right now."
        assert "ROLLOUT" not in response.text
        errors = [r.getMessage() for r in caplog.records if ours(r) and r.levelname == "ERROR"]
        assert errors == [
            "Cannot issue Rollout tokens (answered 503): the Rollout credentials are missing: "
            f"set {missing}"
        ]
        monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)  # the environment, once it has them
        monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
        assert verify_token(client.get("/rollout-token", headers=ALICE).json()["token"])


def test_ttl_option(shell: Shell) -> None:
    with shell.client(ttl=60) as client:
        body = client.get("/rollout-token", headers=ALICE).json()
    assert body["expires_in"] == 60
    verify_token(body["token"], ttl=60)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"client_secret": 123}, "client secret must be a str"),
        ({"client_id": b"id"}, "client id must be a str"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": 86400}, "ttl"),
        ({"path": "rollout-token"}, "path"),
        ({"path": "/a b"}, "path"),
        ({"path": "/a?b"}, "path"),
        ({"methods": "GET"}, "methods"),
        ({"methods": ()}, "methods"),
        ({"methods": ("get",)}, "method"),
        ({"methods": ("OPTIONS",)}, "OPTIONS"),
        ({"allowed_origins": ("*",)}, "origin"),
        ({"allowed_origins": ("https://a.example/",)}, "origin"),
        ({"allowed_origins": "https://a.example"}, "allowed_origins"),
        ({"resolver_timeout": 0}, "resolver_timeout"),
        ({"resolver_timeout": float("nan")}, "resolver_timeout"),
        ({"max_body_size": -1}, "max_body_size"),
        ({"on_issue": "log"}, "on_issue"),
        ({"issuer": "issuer"}, "issuer"),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET)}, "not both"),
    ],
)
def test_configuration_errors_at_construction(
    shell: Shell, options: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigurationError, match=needle) as info:
        shell.middleware(shell.resolver(header_user), **options)
    assert SECRET not in str(info.value)


def test_resolve_user_must_be_callable(shell: Shell) -> None:
    with pytest.raises(ConfigurationError, match="resolve_user"):
        shell.middleware("alice")


def test_secret_never_leaks(shell: Shell, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def boom(headers: dict[str, str]) -> Any:
        if headers.get("x-user") == "boom":
            raise ValueError("no")
        return headers.get("x-user")

    middleware = shell.middleware(shell.resolver(boom))
    assert SECRET not in repr(middleware)
    with shell.client(boom) as client:
        texts = []
        for user in ("alice", "boom", ""):
            for method in ("GET", "HEAD", "POST"):
                response = client.request(method, "/rollout-token", headers={"x-user": user})
                texts.append(response.text + json.dumps(dict(response.headers)))
    texts += [r.getMessage() + str(r.exc_info) for r in caplog.records]
    assert not [t for t in texts if SECRET in t]


def ours(record: logging.LogRecord) -> bool:
    """A record of the package's logger: other libraries (httpx's per-request INFO line, once some
    earlier test configured the root logger, as Litestar does) log in the same test."""
    return record.name == "rollout_middleware"


def test_info_log_per_token_without_the_token(
    shell: Shell, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rollout_middleware")
    with shell.client() as client:
        token = client.get("/rollout-token", headers=ALICE).json()["token"]
    [record] = [r for r in caplog.records if ours(r) and r.levelno == logging.INFO]
    assert "'alice'" in record.getMessage()
    assert token not in record.getMessage()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_on_issue_hook(shell: Shell, is_async: bool) -> None:
    seen: list[tuple[Any, ...]] = []

    def hook(user_id: str, expires_at: int, info: Any) -> None:
        seen.append((user_id, expires_at, info))

    async def async_hook(user_id: str, expires_at: int, info: Any) -> None:
        hook(user_id, expires_at, info)

    with shell.client(on_issue=async_hook if is_async else hook) as client:
        body = client.get("/rollout-token?x=1", headers=ALICE).json()
        client.get("/rollout-token")  # anonymous: no token, no call
    [(user_id, expires_at, info)] = seen
    assert (user_id, expires_at) == ("alice", body["expires_at"])
    assert info["method"] == "GET"
    assert info["path"] == "/rollout-token"
    assert set(info) == {"method", "path", "client"}


def test_failing_hook_is_logged_and_token_served(
    shell: Shell, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(user_id: str, expires_at: int, info: Any) -> None:
        raise RuntimeError("metrics down")

    caplog.set_level(logging.ERROR, logger="rollout_middleware")
    with shell.client(on_issue=hook) as client:
        assert client.get("/rollout-token", headers=ALICE).status_code == 200
    assert any(r.exc_info and "on_issue" in r.getMessage() for r in caplog.records)


def test_cross_site_request_is_403(shell: Shell) -> None:
    with shell.client() as client:
        for site in ("same-origin", "same-site", "none"):
            ok = client.get("/rollout-token", headers={**ALICE, "sec-fetch-site": site})
            assert ok.status_code == 200, site
        refused = client.get(
            "/rollout-token",
            headers={**ALICE, "sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        )
    problem(refused, 403)
    assert "access-control-allow-origin" not in refused.headers


def test_allowed_origin_gets_cors_and_preflight(shell: Shell) -> None:
    origin = "https://app.example.com"
    cross = {"sec-fetch-site": "cross-site", "origin": origin}
    with shell.client(allowed_origins=[origin]) as client:
        response = client.get("/rollout-token", headers={**ALICE, **cross})
        preflight = client.options(
            "/rollout-token",
            headers={
                **cross,
                "access-control-request-method": "GET",
                "access-control-request-headers": "x-csrf-token",
            },
        )
        other = client.options(
            "/rollout-token",
            headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
        )
        anonymous = client.get("/rollout-token", headers=cross)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"
    assert preflight.status_code == 204
    assert preflight.content == b""
    assert "content-length" not in preflight.headers or preflight.headers["content-length"] == "0"
    assert preflight.headers["access-control-allow-origin"] == origin
    assert preflight.headers["access-control-allow-methods"] == "GET"
    assert preflight.headers["access-control-allow-headers"] == "x-csrf-token"
    problem(other, 403)
    problem(anonymous, 401)
    assert anonymous.headers["access-control-allow-origin"] == origin


def test_slow_async_resolver_is_503(shell: Shell, caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    async def slow(resolved: Any) -> Any:
        await asyncio.sleep(5)
        return "late"

    caplog.set_level(logging.ERROR, logger="rollout_middleware")
    started = time.monotonic()
    with shell.client(resolve=slow, resolver_timeout=0.05) as client:
        response = client.get("/rollout-token")
    assert time.monotonic() - started < 4
    problem(response, 503)
    assert any("longer than" in r.getMessage() for r in caplog.records)


def test_body_over_limit_is_413(shell: Shell) -> None:
    with shell.client(methods=("POST",), max_body_size=10) as client:
        assert client.post("/rollout-token", headers=ALICE, content=b"x" * 10).status_code == 200
        problem(client.post("/rollout-token", headers=ALICE, content=b"x" * 11), 413)


def test_head_delivers_no_token_so_no_hook_and_no_log(
    shell: Shell, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    caplog.set_level(logging.INFO, logger="rollout_middleware")
    with shell.client(on_issue=lambda user_id, expires_at, info: seen.append(user_id)) as client:
        assert client.head("/rollout-token", headers=ALICE).status_code == 200
        assert seen == []
        assert not [r for r in caplog.records if ours(r) and r.levelno == logging.INFO]
        client.get("/rollout-token", headers=ALICE)
    assert seen == ["alice"]


def test_resolvers_own_timeout_error_is_a_500_not_a_503(
    shell: Shell, caplog: pytest.LogCaptureFixture
) -> None:
    async def database_timeout(resolved: Any) -> Any:
        raise TimeoutError("the database did not answer")

    caplog.set_level(logging.ERROR, logger="rollout_middleware")
    with shell.client(resolve=database_timeout, resolver_timeout=5) as client:
        problem(client.get("/rollout-token"), 500)
    [record] = [r for r in caplog.records if r.name == "rollout_middleware"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], TimeoutError)


def test_a_cross_site_refusal_is_logged_at_info_naming_the_option(
    shell: Shell, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rollout_middleware")
    origin = {"origin": "https://other.example", "sec-fetch-site": "cross-site"}
    with shell.client() as client:
        assert client.get("/rollout-token", headers={**ALICE, **origin}).status_code == 403
    [message] = [r.getMessage() for r in caplog.records if ours(r)]
    assert "Refused a cross-site request for a Rollout token at /rollout-token" in message
    assert "'https://other.example'" in message
    assert "allowed_origins (ROLLOUT_ALLOWED_ORIGINS)" in message
