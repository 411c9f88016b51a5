"""The clients against the stand-in's CRM, in process: paging, retries, errors, credential ids.

The async client talks to the stand-in over ``httpx.ASGITransport``; the sync one over
:class:`BlockingASGITransport`, which runs each request on a private event loop. Retries sleep
through :class:`Sleeps`, which records the requested waits and never sleeps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import time
from typing import Any

import httpx
import pytest

from rollout_middleware.client import (
    CREDENTIAL_ID_HEADER,
    CRM_API,
    PaginationError,
    Retry,
    RolloutAPIError,
    RolloutAuth,
    RolloutDataNotReady,
    apaginate,
    async_rollout_client,
    paginate,
    rollout_client,
)
from rollout_middleware.errors import ConfigurationError
from rollout_middleware.testing import DATA_NOT_READY_MESSAGE, RolloutAPIStandIn
from rollout_middleware.tokens import TokenIssuer
from tests.support import CLIENT_ID, SECRET

BASE_URL = "http://rollout.test"


class BlockingASGITransport(httpx.BaseTransport):
    """A sync transport to an ASGI app, in process."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run(send())


class Sleeps(list[float]):
    """Records the waits a :class:`Retry` asks for, instead of sleeping."""

    def sleep(self, seconds: float) -> None:
        self.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.append(seconds)

    def retry(self, **options: Any) -> Retry:
        """A :class:`Retry` that records here; its jitter draws 1.0 (the longest wait) by default."""
        options.setdefault("random", lambda: 1.0)
        return Retry(sleep=self.sleep, async_sleep=self.async_sleep, **options)


@dataclasses.dataclass
class Api:
    stand_in: RolloutAPIStandIn
    credential_id: str
    sleeps: Sleeps

    def client(self, **options: Any) -> httpx.Client:
        options.setdefault("retry", self.sleeps.retry())
        options.setdefault("credential_id", self.credential_id)
        return rollout_client(
            "ada",
            base_url=BASE_URL,
            issuer=TokenIssuer(CLIENT_ID, SECRET),
            transport=BlockingASGITransport(self.stand_in),
            **options,
        )

    def async_client(self, **options: Any) -> httpx.AsyncClient:
        options.setdefault("retry", self.sleeps.retry())
        options.setdefault("credential_id", self.credential_id)
        return async_rollout_client(
            "ada",
            base_url=BASE_URL,
            issuer=TokenIssuer(CLIENT_ID, SECRET),
            transport=httpx.ASGITransport(app=self.stand_in),
            **options,
        )

    def statuses(self) -> list[int]:
        return [record.status for record in self.stand_in.requests]


@pytest.fixture
def api() -> Api:
    stand_in = RolloutAPIStandIn(CLIENT_ID, SECRET)
    credential = stand_in.add_credential("ada", "follow-up-boss")
    stand_in.add_credential("grace", "lofty")
    return Api(stand_in, credential["id"], Sleeps())


def create_people(api: Api, count: int) -> list[str]:
    with api.client() as crm:
        ids = [crm.post("/people", json={"name": f"Person {i}"}).json()["id"] for i in range(count)]
    api.stand_in.clear_requests()
    return ids


# -- pagination ------------------------------------------------------------------------------------


def test_250_people_come_back_from_paginate_in_3_pages(api: Api) -> None:
    ids = create_people(api, 250)
    with api.client() as crm:
        people = list(paginate(crm, "/people", params={"sort": "name"}))
    assert [person["id"] for person in people] == ids
    assert people[249]["name"] == "Person 249"
    pages = api.stand_in.requests
    assert [(r.method, r.path, r.status) for r in pages] == [("GET", "/people", 200)] * 3
    queries = [httpx.QueryParams(r.query) for r in pages]
    assert [q["limit"] for q in queries] == ["100"] * 3
    assert [q.get("sort") for q in queries] == ["name"] * 3
    assert [("next" in q) for q in queries] == [False, True, True]


def test_apaginate_yields_every_page(api: Api) -> None:
    ids = create_people(api, 250)

    async def scenario() -> list[Any]:
        async with api.async_client() as crm:
            return [person async for person in apaginate(crm, "/people", limit=60)]

    assert [person["id"] for person in asyncio.run(scenario())] == ids
    assert len(api.stand_in.requests) == 5


def test_a_bare_array_is_yielded_as_it_is(api: Api) -> None:
    with api.client() as rollout:
        credentials = list(paginate(rollout, "/credentials"))
    assert [c["id"] for c in credentials] == [api.credential_id]
    assert len(api.stand_in.requests) == 1


def test_too_many_pages_is_an_error(api: Api) -> None:
    create_people(api, 250)
    seen: list[Any] = []
    with api.client() as crm, pytest.raises(PaginationError, match="max_pages=2"):
        seen.extend(paginate(crm, "/people", max_pages=2))
    assert len(seen) == 200
    assert len(api.stand_in.requests) == 2

    async def scenario() -> None:
        async with api.async_client() as crm:
            async for _ in apaginate(crm, "/people", limit=100, max_pages=1):
                pass

    with pytest.raises(PaginationError, match="max_pages=1"):
        asyncio.run(scenario())


def test_an_empty_list_is_one_page(api: Api) -> None:
    with api.client() as crm:
        assert list(paginate(crm, "/webhooks")) == []
    assert len(api.stand_in.requests) == 1


@pytest.mark.parametrize(
    "body", [{"people": []}, {"_metadata": {"collection": "people"}}, {"_metadata": [1]}, 3]
)
def test_a_body_that_is_not_a_page_is_an_error(body: Any) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with (
        httpx.Client(transport=transport, base_url=BASE_URL) as client,
        pytest.raises(PaginationError, match="not a page"),
    ):
        list(paginate(client, "/people"))


def test_paginate_raises_rollout_errors_even_from_a_plain_client(api: Api) -> None:
    with (
        api.client(raise_errors=False, credential_id="nope") as crm,
        pytest.raises(RolloutAPIError, match="Credential not found") as raised,
    ):
        list(paginate(crm, "/people"))
    assert raised.value.status == 404


@pytest.mark.parametrize("options", [{"limit": 0}, {"limit": True}, {"max_pages": 0}])
def test_paginate_checks_its_bounds(options: dict[str, Any]) -> None:
    with httpx.Client() as client, pytest.raises(ValueError, match="1 or more"):
        next(paginate(client, "/people", **options))


# -- retries ---------------------------------------------------------------------------------------


def test_two_429s_are_retried_and_the_third_try_succeeds(api: Api) -> None:
    api.stand_in.force_status(429, 2)
    with api.client() as crm:
        response = crm.get("/people")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [429, 429]
    assert api.statuses() == [429, 429, 200]
    assert api.sleeps == [0.5, 1.0]  # backoff 0.5 s, doubled, times the jitter's draw (1.0)


def test_async_client_retries_429s_with_its_async_sleep(api: Api) -> None:
    def no_blocking_sleep(seconds: float) -> None:
        raise AssertionError("the async client slept with the blocking sleep")

    retry = dataclasses.replace(api.sleeps.retry(random=lambda: 0.5), sleep=no_blocking_sleep)
    api.stand_in.force_status(429, 2)

    async def scenario() -> httpx.Response:
        async with api.async_client(retry=retry) as crm:
            return await crm.get("/people")

    assert asyncio.run(scenario()).status_code == 200
    assert api.statuses() == [429, 429, 200]
    assert api.sleeps == [0.25, 0.5]


def test_jitter_is_full(api: Api) -> None:
    draws = iter([0.0, 0.3, 0.9])
    api.stand_in.force_status(503, 3)
    with api.client(retry=api.sleeps.retry(random=lambda: next(draws))) as crm:
        assert crm.get("/people").status_code == 200
    assert api.sleeps == [0.0, 0.3, 0.9 * 2.0]


def test_tries_are_bounded(api: Api) -> None:
    api.stand_in.force_status(500, 10)
    with api.client() as crm, pytest.raises(RolloutAPIError) as raised:
        crm.get("/people")
    assert raised.value.status == 500
    assert api.statuses() == [500] * 4  # Retry().attempts
    assert api.sleeps == [0.5, 1.0, 2.0]


def test_the_total_wait_is_bounded(api: Api) -> None:
    api.stand_in.force_status(502, 10)
    retry = api.sleeps.retry(attempts=10, backoff=4.0, max_backoff=8.0, max_wait=10.0)
    with api.client(retry=retry) as crm, pytest.raises(RolloutAPIError):
        crm.get("/people")
    assert api.sleeps == [4.0, 6.0]  # 4, then what is left of the 10 s
    assert sum(api.sleeps) <= retry.max_wait
    assert api.statuses() == [502] * 3


def test_retry_after_in_seconds_is_honoured(api: Api) -> None:
    api.stand_in.force_status(429, 1, retry_after="3")
    with api.client() as crm:
        assert crm.get("/people").status_code == 200
    assert api.sleeps == [3.0]


def test_retry_after_as_an_http_date_is_honoured(api: Api) -> None:
    in_five_seconds = email.utils.formatdate(time.time() + 5, usegmt=True)
    api.stand_in.force_status(503, 1, retry_after=in_five_seconds)
    with api.client() as crm:
        assert crm.get("/people").status_code == 200
    [wait] = api.sleeps
    assert 3.0 <= wait <= 5.0
    api.sleeps.clear()
    api.stand_in.force_status(503, 1, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    with api.client() as crm:
        assert crm.get("/people").status_code == 200
    assert api.sleeps == [0.0]


def test_a_retry_after_beyond_the_wait_bound_is_not_waited(api: Api) -> None:
    api.stand_in.force_status(429, 1, retry_after="31")
    with api.client() as crm, pytest.raises(RolloutAPIError) as raised:
        crm.get("/people")
    assert raised.value.status == 429
    assert api.sleeps == []
    assert api.statuses() == [429]


def test_a_bad_retry_after_falls_back_to_backoff(api: Api) -> None:
    api.stand_in.force_status(429, 1, retry_after="soon")
    with api.client() as crm:
        assert crm.get("/people").status_code == 200
    assert api.sleeps == [0.5]


def test_a_post_is_not_retried_on_a_500(api: Api) -> None:
    api.stand_in.force_status(500, 1)
    with api.client() as crm, pytest.raises(RolloutAPIError) as raised:
        crm.post("/people", json={"name": "Ada"})
    assert raised.value.status == 500
    assert api.statuses() == [500]
    assert api.sleeps == []
    assert api.stand_in.people_for(api.credential_id) == []


def test_a_post_is_retried_on_a_429_and_its_body_sent_again(api: Api) -> None:
    api.stand_in.force_status(429, 1)
    with api.client() as crm:
        created = crm.post("/webhooks", json={"url": "https://app.example/hook"})
    assert created.status_code == 201
    assert api.statuses() == [429, 201]
    assert [w["url"] for w in api.stand_in.webhooks_for(api.credential_id)] == [
        "https://app.example/hook"
    ]


def test_a_delete_is_retried_on_a_503(api: Api) -> None:
    with api.client() as crm:
        webhook = crm.post("/webhooks", json={"url": "https://app.example/hook"}).json()
        api.stand_in.force_status(503, 1)
        assert crm.delete(f"/webhooks/{webhook['id']}").status_code == 204
    assert api.statuses()[1:] == [503, 204]


def test_retry_none_turns_retrying_off(api: Api) -> None:
    api.stand_in.force_status(429, 1)
    with api.client(retry=None) as crm, pytest.raises(RolloutAPIError):
        crm.get("/people")
    assert api.statuses() == [429]


def test_a_401_and_a_429_are_each_retried(api: Api) -> None:
    api.stand_in.force_401(1)
    api.stand_in.force_status(429, 1)
    with api.client() as crm:
        assert crm.get("/people").status_code == 200
    assert api.statuses() == [401, 429, 200]
    assert len(api.sleeps) == 1


def test_retries_are_on_by_default() -> None:
    with rollout_client("ada", issuer=TokenIssuer(CLIENT_ID, SECRET)) as client:
        assert isinstance(client.auth, RolloutAuth)
        assert client.auth.retry == Retry()
        assert client.auth.raise_errors is True
    assert RolloutAuth("ada", issuer=TokenIssuer(CLIENT_ID, SECRET)).retry is None


# -- 409: data not ready ---------------------------------------------------------------------------


def test_a_409_raises_data_not_ready_with_rollouts_message(api: Api) -> None:
    api.stand_in.force_status(409, 1)
    with api.client() as crm, pytest.raises(RolloutDataNotReady) as raised:
        crm.get("/people")
    assert raised.value.status == 409
    assert raised.value.message == DATA_NOT_READY_MESSAGE
    assert api.sleeps == []
    assert api.statuses() == [409]


def test_a_409_with_retry_after_0_is_not_retried_without_opting_in(api: Api) -> None:
    api.stand_in.force_status(409, 1, retry_after="0")
    with api.client() as crm, pytest.raises(RolloutDataNotReady):
        crm.get("/people")
    assert api.statuses() == [409]


def test_a_409_is_waited_out_when_the_caller_opts_in(api: Api) -> None:
    api.stand_in.force_status(409, 3)
    with api.client(retry=api.sleeps.retry(wait_for_data=60.0, random=lambda: 0.0)) as crm:
        assert crm.get("/people").status_code == 200
    assert api.statuses() == [409, 409, 409, 200]
    assert api.sleeps == [0.5, 1.0, 2.0]  # polled at the backoff steps, without jitter


def test_waiting_for_data_is_bounded(api: Api) -> None:
    api.stand_in.force_status(409, 100)
    retry = api.sleeps.retry(wait_for_data=10.0)

    async def scenario() -> None:
        async with api.async_client(retry=retry) as crm:
            await crm.get("/people")

    with pytest.raises(RolloutDataNotReady):
        asyncio.run(scenario())
    assert api.sleeps == [0.5, 1.0, 2.0, 4.0]  # 8 more would pass the 10 s
    assert sum(api.sleeps) <= retry.wait_for_data


# -- errors ----------------------------------------------------------------------------------------


def test_a_404_on_the_crm_raises_with_its_error_message(api: Api) -> None:
    with api.client() as crm, pytest.raises(RolloutAPIError) as raised:
        crm.get("/webhooks/nope")
    error = raised.value
    assert type(error) is RolloutAPIError
    assert (error.status, error.message) == (404, "Webhook not found")
    assert str(error) == "Rollout API error 404: Webhook not found"
    assert repr(error) == "RolloutAPIError(status=404, message='Webhook not found')"
    assert error.response is not None
    assert error.response.json() == {"errorMessage": "Webhook not found"}
    assert api.sleeps == []


def test_the_async_client_raises_too(api: Api) -> None:
    async def scenario() -> None:
        async with api.async_client(credential_id="someone-elses") as crm:
            await crm.get("/people")

    with pytest.raises(RolloutAPIError, match="Credential not found"):
        asyncio.run(scenario())


def test_raise_errors_false_keeps_plain_responses(api: Api) -> None:
    with api.client(raise_errors=False) as crm:
        response = crm.get("/webhooks/nope")
    assert response.status_code == 404
    assert response.json() == {"errorMessage": "Webhook not found"}


def response(status: int, **content: Any) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "https://rollout.test/x"), **content)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (response(404, json={"errorMessage": "Person not found"}), "Person not found"),
        (response(401, json={"errors": [{"message": "Invalid token"}]}), "Invalid token"),
        (response(400, json={"errors": [{"message": "a"}, {"message": "b"}]}), "a; b"),
        (response(403, json={"error": "Invalid credentials"}), "Invalid credentials"),
        (response(502, text="<html>Bad gateway</html>"), "Bad Gateway"),
        (response(400, json={"errors": []}), "Bad Request"),
        (response(400, json=["unexpected"]), "Bad Request"),
    ],
)
def test_the_message_comes_from_whichever_shape_the_body_has(
    answer: httpx.Response, message: str
) -> None:
    error = RolloutAPIError.from_response(answer)
    assert (error.status, error.message, error.response) == (answer.status_code, message, answer)


def test_a_409_becomes_data_not_ready() -> None:
    error = RolloutAPIError.from_response(response(409, json={"errorMessage": "not yet"}))
    assert isinstance(error, RolloutDataNotReady)
    assert repr(error) == "RolloutDataNotReady(status=409, message='not yet')"


def test_the_token_never_shows_in_an_error() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"errorMessage": f"Refused: {request.headers['authorization']}"}
        )

    auth = RolloutAuth("ada", issuer=TokenIssuer(CLIENT_ID, SECRET), raise_errors=True)
    with (
        httpx.Client(auth=auth, transport=httpx.MockTransport(echo)) as client,
        pytest.raises(RolloutAPIError) as raised,
    ):
        client.get("https://rollout.test/people")
    token = auth.token()
    assert str(raised.value) == "Rollout API error 401: Refused: Bearer [token]"
    assert token not in repr(raised.value)
    assert SECRET not in str(raised.value)


# -- the credential id, and configuration ----------------------------------------------------------


def test_the_credential_id_goes_with_every_request(api: Api) -> None:
    with api.client(headers={"X-Extra": "1"}) as crm:
        crm.post("/people", json={"name": "Ada"})
        crm.get("/people")
    assert [r.headers[CREDENTIAL_ID_HEADER] for r in api.stand_in.requests] == [
        api.credential_id
    ] * 2
    assert [r.headers["x-extra"] for r in api.stand_in.requests] == ["1", "1"]
    assert api.stand_in.requests[0].as_json()["credential_id"] == api.credential_id


def test_the_credential_id_is_not_sent_unless_given(api: Api) -> None:
    async def scenario() -> int:
        async with async_rollout_client(
            "ada",
            base_url=BASE_URL,
            issuer=TokenIssuer(CLIENT_ID, SECRET),
            transport=httpx.ASGITransport(app=api.stand_in),
        ) as rollout:
            return (await rollout.get("/credentials")).status_code

    assert asyncio.run(scenario()) == 200
    assert CREDENTIAL_ID_HEADER not in api.stand_in.requests[0].headers


@pytest.mark.parametrize("credential_id", ["", "  ", 7])
def test_a_bad_credential_id_is_refused(credential_id: Any) -> None:
    with pytest.raises(ConfigurationError, match="credential_id"):
        rollout_client("ada", issuer=TokenIssuer(CLIENT_ID, SECRET), credential_id=credential_id)


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": 1.5},
        {"attempts": True},
        {"backoff": 0},
        {"backoff": -1},
        {"backoff": 9.0},
        {"max_wait": -1},
        {"wait_for_data": "60"},
        {"max_backoff": float("nan")},
    ],
)
def test_retry_is_checked_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Retry(**options)


def test_retry_must_be_a_retry() -> None:
    with pytest.raises(ConfigurationError, match="retry must be a Retry"):
        RolloutAuth("ada", issuer=TokenIssuer(CLIENT_ID, SECRET), retry=3)  # type: ignore[arg-type]


def test_the_crm_base_url_with_a_credential(api: Api) -> None:
    with rollout_client(
        "ada", base_url=CRM_API, issuer=TokenIssuer(CLIENT_ID, SECRET), credential_id="c-1"
    ) as crm:
        request = crm.build_request("GET", "/people")
    assert str(request.url) == "https://crm.universal.rollout.com/api/people"
    assert request.headers[CREDENTIAL_ID_HEADER] == "c-1"
