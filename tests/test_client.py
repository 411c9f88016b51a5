"""``RolloutAuth`` against the Rollout API stand-in, over real HTTP and in-process.

Over HTTP, uvicorn serves ``tests.rollout_api_app`` on 127.0.0.1 and the stand-in is driven through
its HTTP controls; in-process, ``httpx.ASGITransport`` calls the same app. ``httpx.Client`` is tested
over HTTP (``ASGITransport`` is async only), ``httpx.AsyncClient`` both ways. Mints are counted by an
issuer that records what it issued; the stand-in records the tokens it saw and why it refused any.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from rollout_middleware.client import (
    CALENDAR_API,
    CREDENTIALS_API,
    CRM_API,
    DEFAULT_BASE_URL,
    EMAIL_API,
    LOS_API,
    MORTGAGE_CRM_API,
    TMS_API,
    RolloutAPIError,
    RolloutAuth,
    async_rollout_client,
    rollout_client,
)
from rollout_middleware.errors import ConfigurationError, InvalidUserIdError
from rollout_middleware.testing import RolloutAPIStandIn
from rollout_middleware.tokens import IssuedToken, TokenIssuer
from tests.rollout_api_app import SEEDED, build
from tests.support import CLIENT_ID, ROOT, SECRET, free_port, running_server, verify_token

OTHER_SECRET = "another-secret-" + "y" * 49


class CountingIssuer(TokenIssuer):
    """A real issuer that also keeps every token it issued, and can be made slow (``delay``)."""

    def __init__(self, *args: Any, delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issued: list[IssuedToken] = []
        self.delay = delay

    def issue(self, user_id: str | int) -> IssuedToken:
        if self.delay:  # widens the window in which unsynchronised callers would race
            time.sleep(self.delay)
        issued = super().issue(user_id)
        self.issued.append(issued)
        return issued


class Clock:
    """POSIX time, or a fixed moment, plus an offset a test can move."""

    def __init__(self, fixed: float | None = None) -> None:
        self.fixed = fixed
        self.offset = 0.0

    def __call__(self) -> float:
        return (time.time() if self.fixed is None else self.fixed) + self.offset


@dataclass
class Stand:
    """The stand-in as a test sees it, wherever it runs."""

    base_url: str
    transport: httpx.AsyncBaseTransport | None = None
    stand_in: RolloutAPIStandIn | None = None
    control: httpx.Client | None = None

    def records(self) -> list[dict[str, Any]]:
        if self.stand_in is not None:
            return [record.as_json() for record in self.stand_in.requests]
        assert self.control is not None
        records: list[dict[str, Any]] = self.control.get("/api/_stand-in/requests").json()
        return records

    def statuses(self) -> list[int]:
        return [record["status"] for record in self.records()]

    def reasons(self) -> list[str | None]:
        return [record["reason"] for record in self.records()]

    def tokens(self) -> list[str]:
        return list(dict.fromkeys(r["token"] for r in self.records() if r["token"]))

    def force_401(self, n: int) -> None:
        if self.stand_in is not None:
            self.stand_in.force_401(n)
        else:
            assert self.control is not None
            self.control.post("/api/_stand-in/force-401", params={"n": n}).raise_for_status()

    def async_client(self, auth: httpx.Auth) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, auth=auth, transport=self.transport)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "tests.rollout_api_app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    with running_server(argv, port, env=env, ready_path="/api/connectors/lofty/icon") as url:
        yield url


@pytest.fixture
def http_stand(server: str) -> Iterator[Stand]:
    with httpx.Client(base_url=server) as control:
        control.delete("/api/_stand-in/requests").raise_for_status()
        control.post("/api/_stand-in/force-401", params={"n": 0}).raise_for_status()
        yield Stand(base_url=f"{server}/api", control=control)


@pytest.fixture(params=[pytest.param("http", marks=pytest.mark.server), "asgi"])
def stand(request: pytest.FixtureRequest) -> Stand:
    if request.param == "http":
        http: Stand = request.getfixturevalue("http_stand")
        return http
    app, stand_in = build(CLIENT_ID, SECRET)
    return Stand(
        base_url="http://rollout.test/api",
        transport=httpx.ASGITransport(app=app),
        stand_in=stand_in,
    )


def appkeys(response: httpx.Response) -> list[str]:
    return [credential["appKey"] for credential in response.json()]


# -- the happy path and reuse ----------------------------------------------------------------------


@pytest.mark.server
def test_sync_client_lists_credentials(http_stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    with rollout_client("user-1", base_url=http_stand.base_url, issuer=issuer) as rollout:
        response = rollout.get("/credentials", params={"includeProfile": "true"})
        other = rollout.get("/connectors")
    assert response.status_code == 200
    assert appkeys(response) == SEEDED["user-1"]
    assert "label" in response.json()[0]
    assert other.status_code == 200
    assert "follow-up-boss" in other.json()
    assert http_stand.statuses() == [200, 200]
    [token] = http_stand.tokens()
    assert verify_token(token)["sub"] == "user-1"
    assert [issued.token for issued in issuer.issued] == [token]


def test_async_client_lists_credentials(stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)

    async def scenario() -> httpx.Response:
        async with stand.async_client(RolloutAuth("user-2", issuer=issuer)) as rollout:
            return await rollout.get("/credentials")

    response = asyncio.run(scenario())
    assert response.status_code == 200
    assert appkeys(response) == SEEDED["user-2"]
    assert set(response.json()[0]) == {"id", "createdAt", "appKey"}
    [record] = stand.records()
    assert record["subject"] == "user-2"
    assert record["path"] == "/credentials"
    assert verify_token(record["token"])["sub"] == "user-2"


def test_token_is_reused(stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    auth = RolloutAuth("user-1", issuer=issuer)

    async def scenario() -> list[int]:
        async with stand.async_client(auth) as rollout:
            return [(await rollout.get("/credentials")).status_code for _ in range(6)]

    assert asyncio.run(scenario()) == [200] * 6
    assert len(issuer.issued) == 1
    assert stand.tokens() == [issuer.issued[0].token]


@pytest.mark.server
def test_token_is_reused_by_the_sync_client_and_across_clients(http_stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    auth = RolloutAuth("user-1", issuer=issuer)
    for _ in range(2):
        with httpx.Client(base_url=http_stand.base_url, auth=auth) as rollout:
            assert [rollout.get("/credentials").status_code for _ in range(3)] == [200] * 3
    assert len(issuer.issued) == 1
    assert len(http_stand.tokens()) == 1


# -- re-minting near expiry ------------------------------------------------------------------------


def test_token_is_reminted_shortly_before_expiry(stand: Stand) -> None:
    # The stand-in keeps real time. The issuer's clock starts 800 s behind it, so its first token
    # (iat = now - 800, exp = now + 100) is valid for the stand-in, but within the refresh margin of
    # 120 s once the issuer's clock catches up.
    clock = Clock()
    clock.offset = -800
    issuer = CountingIssuer(CLIENT_ID, SECRET, clock=clock)
    auth = RolloutAuth("user-1", issuer=issuer, refresh_margin=120)

    async def scenario() -> None:
        async with stand.async_client(auth) as rollout:
            for _ in range(2):
                assert (await rollout.get("/credentials")).status_code == 200
            clock.offset = 0
            for _ in range(2):
                assert (await rollout.get("/credentials")).status_code == 200

    asyncio.run(scenario())
    first, second = issuer.issued
    assert second.expires_at - first.expires_at >= 800
    assert stand.tokens() == [first.token, second.token]
    assert stand.statuses() == [200] * 4


def test_refresh_boundary_with_a_fixed_clock() -> None:
    start = 1_800_000_000.0
    clock = Clock(fixed=start)
    app, stand_in = build(CLIENT_ID, SECRET, clock=clock)
    issuer = CountingIssuer(CLIENT_ID, SECRET, clock=clock)
    auth = RolloutAuth("user-1", issuer=issuer, refresh_margin=60)

    async def get_at(rollout: httpx.AsyncClient, offset: float) -> int:
        clock.offset = offset
        return (await rollout.get("/credentials")).status_code

    async def scenario() -> list[int]:
        async with httpx.AsyncClient(
            base_url="http://rollout.test/api", auth=auth, transport=httpx.ASGITransport(app=app)
        ) as rollout:
            return [await get_at(rollout, offset) for offset in (0, 839.9, 840, 1679.9, 1680)]

    assert asyncio.run(scenario()) == [200] * 5
    assert [issued.expires_at for issued in issuer.issued] == [
        int(start) + 900,
        int(start) + 840 + 900,
        int(start) + 1680 + 900,
    ]
    assert len(stand_in.tokens_seen()) == 3


def test_without_a_margin_the_token_is_used_to_its_last_second() -> None:
    clock = Clock(fixed=1_800_000_000.0)
    app, _ = build(CLIENT_ID, SECRET, clock=clock)
    issuer = CountingIssuer(CLIENT_ID, SECRET, clock=clock, ttl=60)
    auth = RolloutAuth("user-1", issuer=issuer, refresh_margin=0)

    async def scenario() -> list[int]:
        statuses = []
        async with httpx.AsyncClient(
            base_url="http://rollout.test/api", auth=auth, transport=httpx.ASGITransport(app=app)
        ) as rollout:
            for offset in (0, 59.5, 60):
                clock.offset = offset
                statuses.append((await rollout.get("/credentials")).status_code)
        return statuses

    assert asyncio.run(scenario()) == [200, 200, 200]
    assert len(issuer.issued) == 2


# -- 401: one retry, never a loop ------------------------------------------------------------------


def test_a_401_is_retried_once_with_a_fresh_token(stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    auth = RolloutAuth("user-1", issuer=issuer)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with stand.async_client(auth) as rollout:
            assert (await rollout.get("/credentials")).status_code == 200
            stand.force_401(1)
            retried = await rollout.get("/credentials")
            after = await rollout.get("/credentials")
            return retried, after

    retried, after = asyncio.run(scenario())
    assert retried.status_code == 200
    assert appkeys(retried) == SEEDED["user-1"]
    assert [r.status_code for r in retried.history] == [401]
    assert after.status_code == 200
    assert stand.statuses() == [200, 401, 200, 200]
    assert stand.reasons() == [None, "forced", None, None]
    assert len(issuer.issued) == 2  # the refused token was replaced, and the new one kept


@pytest.mark.server
def test_the_sync_client_retries_a_401_once(http_stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    http_stand.force_401(1)
    with rollout_client("user-1", base_url=http_stand.base_url, issuer=issuer) as rollout:
        response = rollout.get("/credentials")
    assert response.status_code == 200
    assert http_stand.statuses() == [401, 200]
    assert len(issuer.issued) == 2


def test_no_retry_loop_when_the_fresh_token_is_refused_too(stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    auth = RolloutAuth("user-1", issuer=issuer)
    stand.force_401(2)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with stand.async_client(auth) as rollout:
            return await rollout.get("/credentials"), await rollout.get("/credentials")

    refused, later = asyncio.run(scenario())
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["message"]
    assert len(refused.history) == 1
    assert later.status_code == 200
    assert stand.statuses() == [401, 401, 200]
    assert len(issuer.issued) == 2


@pytest.mark.server
def test_a_wrong_secret_gives_two_requests_and_the_401(http_stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, OTHER_SECRET)
    base_url = http_stand.base_url
    with rollout_client("user-1", base_url=base_url, issuer=issuer, raise_errors=False) as rollout:
        response = rollout.get("/credentials")
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": "Invalid token: signature verification failed"}]
    }
    assert http_stand.reasons() == ["signature", "signature"]
    assert len(issuer.issued) == 2
    with (
        rollout_client("user-1", base_url=base_url, issuer=issuer) as rollout,
        pytest.raises(RolloutAPIError) as raised,
    ):
        rollout.get("/credentials")  # the clients raise by default, after the one retry
    assert (raised.value.status, raised.value.message) == (
        401,
        "Invalid token: signature verification failed",
    )
    assert http_stand.reasons() == ["signature"] * 4


def test_other_errors_are_not_retried(stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)

    async def scenario() -> httpx.Response:
        async with stand.async_client(RolloutAuth("user-1", issuer=issuer)) as rollout:
            return await rollout.delete("/credentials", params={"credentialId": "nope"})

    assert asyncio.run(scenario()).status_code == 404
    assert stand.statuses() == [404]
    assert len(issuer.issued) == 1


@pytest.mark.server
def test_a_json_body_is_sent_again_on_the_retry(http_stand: Stand) -> None:
    http_stand.force_401(1)
    with rollout_client(
        "json-poster", base_url=http_stand.base_url, issuer=TokenIssuer(CLIENT_ID, SECRET)
    ) as rollout:
        created = rollout.post(
            "/credentials", json={"appKey": "lofty", "userInputs": {"apiKey": "key-9876"}}
        )
        listed = rollout.get("/credentials", params={"includeProfile": "true"})
    assert created.status_code == 200, created.text
    assert created.json()["label"] == "Lofty key ending 9876"  # the body arrived again
    assert appkeys(listed) == ["lofty"]  # a user of this test only: the server is shared
    assert http_stand.statuses() == [401, 200, 200]


def test_a_streamed_body_is_sent_again_on_the_retry(stand: Stand) -> None:
    stand.force_401(1)

    async def body() -> AsyncIterator[bytes]:
        yield b'{"appKey": "lofty", '
        yield b'"userInputs": {"apiKey": "stream-1234"}}'

    async def scenario() -> httpx.Response:
        auth = RolloutAuth("stream-poster", issuer=TokenIssuer(CLIENT_ID, SECRET))
        async with stand.async_client(auth) as rollout:
            return await rollout.post("/credentials", content=body())

    created = asyncio.run(scenario())
    assert created.status_code == 200, created.text
    assert created.json()["label"] == "Lofty key ending 1234"
    assert stand.statuses() == [401, 200]


# -- concurrency -----------------------------------------------------------------------------------


@pytest.mark.server
def test_threads_share_one_token(http_stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    auth = RolloutAuth("user-1", issuer=issuer)
    with (
        httpx.Client(base_url=http_stand.base_url, auth=auth) as rollout,
        ThreadPoolExecutor(8) as pool,
    ):

        def get(_: int) -> int:
            return rollout.get("/credentials").status_code

        assert list(pool.map(get, range(24))) == [200] * 24
        assert len(issuer.issued) == 1
        http_stand.force_401(1)
        assert list(pool.map(get, range(16))) == [200] * 16
    assert len(issuer.issued) == 2
    assert http_stand.statuses().count(401) == 1
    assert len(http_stand.records()) == 24 + 16 + 1


def test_tasks_share_one_token(stand: Stand) -> None:
    issuer = CountingIssuer(CLIENT_ID, SECRET)
    auth = RolloutAuth("user-1", issuer=issuer)

    async def scenario() -> tuple[list[int], list[int]]:
        async with stand.async_client(auth) as rollout:

            async def get() -> int:
                return (await rollout.get("/credentials")).status_code

            first = await asyncio.gather(*(get() for _ in range(24)))
            stand.force_401(1)
            second = await asyncio.gather(*(get() for _ in range(16)))
            return list(first), list(second)

    first, second = asyncio.run(scenario())
    assert first == [200] * 24
    assert second == [200] * 16
    assert len(issuer.issued) == 2
    assert stand.statuses().count(401) == 1


def test_racing_threads_mint_once_and_replace_a_refused_token_once() -> None:
    """Twelve requests start at once, and get a 401 at once: one mint each time."""
    issuer = CountingIssuer(CLIENT_ID, SECRET, delay=0.05)
    auth = RolloutAuth("user-1", issuer=issuer)
    barrier = threading.Barrier(12)

    def first_send(_: int) -> tuple[Generator[httpx.Request, httpx.Response, None], str]:
        flow = auth.sync_auth_flow(httpx.Request("GET", "https://rollout.test/credentials"))
        barrier.wait()
        return flow, next(flow).headers["Authorization"]

    def refuse(flow: Generator[httpx.Request, httpx.Response, None]) -> str:
        barrier.wait()
        retry = flow.send(httpx.Response(401))
        with pytest.raises(StopIteration):  # no third attempt
            flow.send(httpx.Response(401))
        return retry.headers["Authorization"]

    with ThreadPoolExecutor(12) as pool:
        flows, sent = zip(*pool.map(first_send, range(12)), strict=True)
        assert set(sent) == {f"Bearer {issuer.issued[0].token}"}
        assert len(issuer.issued) == 1
        retried = set(pool.map(refuse, flows))
    assert len(issuer.issued) == 2
    assert retried == {f"Bearer {issuer.issued[1].token}"}


# -- configuration ---------------------------------------------------------------------------------


def test_credentials_from_the_environment_or_arguments() -> None:
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    assert verify_token(RolloutAuth("u1", environ=env).token())["sub"] == "u1"
    explicit = RolloutAuth(7, client_id="other", client_secret=OTHER_SECRET, ttl=120, environ={})
    verify_token(explicit.token(), secret=OTHER_SECRET, client_id="other", ttl=120)
    assert explicit.subject == "7"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"environ": {}},
            "credentials are missing: set ROLLOUT_CLIENT_ID and ROLLOUT_CLIENT_SECRET",
        ),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET), "client_id": "x"}, "not both"),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET), "ttl": 60}, "not both"),
        ({"issuer": "nope"}, "issuer must be a TokenIssuer"),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET), "refresh_margin": -1}, "refresh_margin"),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET), "refresh_margin": 900}, "refresh_margin"),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET, ttl=30), "refresh_margin": 60}, "(30 s)"),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET), "refresh_margin": True}, "refresh_margin"),
        ({"issuer": TokenIssuer(CLIENT_ID, SECRET), "refresh_margin": "60"}, "refresh_margin"),
    ],
)
def test_configuration_errors_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        RolloutAuth("u1", **kwargs)


def test_user_id_is_checked_at_construction() -> None:
    with pytest.raises(InvalidUserIdError):
        RolloutAuth("  ", issuer=TokenIssuer(CLIENT_ID, SECRET))


def test_repr_holds_no_secret_or_token() -> None:
    auth = RolloutAuth("u1", issuer=TokenIssuer(CLIENT_ID, SECRET), refresh_margin=30)
    token = auth.token()
    text = repr(auth)
    assert text == (
        f"RolloutAuth(subject='u1', issuer=TokenIssuer(client_id='{CLIENT_ID}', ttl=900), "
        "refresh_margin=30)"
    )
    assert SECRET not in text
    assert token not in text


def test_base_urls_are_rollouts() -> None:
    shared = (ROOT.parent.parent / "shared" / "ROLLOUT-CLIENT.md").resolve()
    assert CREDENTIALS_API == DEFAULT_BASE_URL == "https://universal.rollout.com/api"
    assert CRM_API == "https://crm.universal.rollout.com/api"
    assert TMS_API == "https://tms.universal.rollout.com/api"
    assert EMAIL_API == "https://email.universal.rollout.com/api"
    assert LOS_API == "https://los.universal.rollout.com/api"
    assert CALENDAR_API == "https://calendar.universal.rollout.com/api"
    assert MORTGAGE_CRM_API == "https://mortgage-crm.universal.rollout.com/api"
    if shared.is_file():  # the brief the URLs come from, when run beside it
        text = shared.read_text()
        for url in (CREDENTIALS_API, CRM_API, TMS_API, EMAIL_API):
            assert f"`{url}`" in text
    issuer = TokenIssuer(CLIENT_ID, SECRET)
    with rollout_client("u1", issuer=issuer) as client:
        url = client.build_request("GET", "/credentials", params={"includeProfile": "true"}).url
        assert str(url) == "https://universal.rollout.com/api/credentials?includeProfile=true"

    async def async_url() -> str:
        async with async_rollout_client("u1", issuer=issuer, base_url=CRM_API) as client:
            return str(client.build_request("GET", "/people").url)

    assert asyncio.run(async_url()) == "https://crm.universal.rollout.com/api/people"


# -- the documented snippets -----------------------------------------------------------------------


def doc_snippets() -> dict[str, str]:
    """The python blocks of docs/client.md, by the function each defines."""
    text = (ROOT / "docs" / "client.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    named = {}
    for block in blocks:
        match = re.search(r"^(?:async )?def (\w+)", block, flags=re.MULTILINE)
        if match:
            named[match.group(1)] = block
    return named


@pytest.mark.server
def test_documented_snippet_lists_credentials(
    http_stand: Stand, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    snippets = doc_snippets()
    namespace: dict[str, Any] = {}
    exec(snippets["list_credentials"], namespace)  # noqa: S102 - our own documentation
    credentials = namespace["list_credentials"]("user-1", base_url=http_stand.base_url)
    assert [c["appKey"] for c in credentials] == SEEDED["user-1"]
    assert all("label" in c for c in credentials)

    exec(snippets["list_credentials_async"], namespace)  # noqa: S102
    credentials = asyncio.run(
        namespace["list_credentials_async"]("user-2", base_url=http_stand.base_url)
    )
    assert [c["appKey"] for c in credentials] == SEEDED["user-2"]


#: Every function docs/client.md defines; each is run below.
DOCUMENTED = {
    "list_credentials",
    "list_credentials_async",
    "list_people",
    "people_names",
    "subscribe",
    "people_when_ready",
    "find_webhook",
    "first_people",
    "check_retries",
}


def test_every_documented_snippet_is_run() -> None:
    text = (ROOT / "docs" / "client.md").read_text()
    assert len(re.findall(r"```python\n", text)) == len(doc_snippets())
    assert set(doc_snippets()) == DOCUMENTED


def test_documented_snippets_against_the_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_client_api import BlockingASGITransport

    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    app, stand_in = build(CLIENT_ID, SECRET)  # under /api, as Rollout's URLs are
    sync, asgi = BlockingASGITransport(app), httpx.ASGITransport(app=app)
    [credential_id, _] = [c["id"] for c in stand_in.credentials_for("user-1")]
    namespace: dict[str, Any] = {}
    for name, snippet in doc_snippets().items():
        if name != "check_retries":
            exec(snippet, namespace)  # noqa: S102 - our own documentation
    with rollout_client(
        "user-1", base_url=CRM_API, credential_id=credential_id, transport=sync
    ) as c:
        for i in range(130):
            c.post("/people", json={"name": f"Person {i}"})

    assert [c["appKey"] for c in namespace["list_credentials"]("user-1", transport=sync)] == (
        SEEDED["user-1"]
    )
    listed = asyncio.run(namespace["list_credentials_async"]("user-2", transport=asgi))
    assert [c["appKey"] for c in listed] == SEEDED["user-2"]
    people = namespace["list_people"]("user-1", credential_id, transport=sync)
    assert [p["name"] for p in people] == [f"Person {i}" for i in range(130)]
    names = asyncio.run(namespace["people_names"]("user-1", credential_id, transport=asgi))
    assert names == [p["name"] for p in people]
    assert (
        len(
            namespace["first_people"](
                "user-1", credential_id, TokenIssuer(CLIENT_ID, SECRET), transport=sync
            )
        )
        == 10
    )

    webhook = namespace["subscribe"](
        "user-1", credential_id, "https://app.test/hook", transport=sync
    )
    assert stand_in.webhooks_for(credential_id) == [webhook]
    find = namespace["find_webhook"]
    assert find("user-1", credential_id, webhook["id"], transport=sync) == webhook
    assert find("user-1", credential_id, "nope", transport=sync) is None
    stand_in.force_status(400, 1)
    with pytest.raises(RolloutAPIError, match="Bad Request"):
        find("user-1", credential_id, webhook["id"], transport=sync)

    waits: list[float] = []
    retry = dataclasses.replace(namespace["PATIENT"], sleep=waits.append)
    stand_in.force_status(409, 2)
    ready = namespace["people_when_ready"]("user-1", credential_id, retry=retry, transport=sync)
    assert ready == people
    assert waits == [0.5, 1.0]
    stand_in.force_status(409, 1000)
    assert (
        namespace["people_when_ready"]("user-1", credential_id, retry=retry, transport=sync) is None
    )
    assert 60 < sum(waits) <= 0.5 + 1.0 + namespace["PATIENT"].wait_for_data


def test_documented_stand_in_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "my-client-id")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(doc_snippets()["check_retries"], namespace)  # noqa: S102 - our own documentation
    asyncio.run(namespace["check_retries"](SECRET))
