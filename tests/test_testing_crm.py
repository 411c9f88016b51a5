"""The stand-in's CRM: credential ids, paged lists, webhooks, error shapes and forced statuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from rollout_middleware.testing import DATA_NOT_READY_MESSAGE, RolloutAPIStandIn
from rollout_middleware.tokens import TokenIssuer
from tests.support import CLIENT_ID, SECRET

NOW = 1_900_000_000


@pytest.fixture
def stand_in() -> RolloutAPIStandIn:
    api = RolloutAPIStandIn(CLIENT_ID, SECRET, clock=lambda: NOW, expose_controls=True)
    api.add_credential("ada", "follow-up-boss")
    api.add_credential("ada", "lofty")
    api.add_credential("grace", "hubspot")
    return api


@pytest.fixture
def client(stand_in: RolloutAPIStandIn) -> Iterator[TestClient]:
    with TestClient(stand_in, base_url="http://rollout.test") as test_client:
        yield test_client


def headers(stand_in: RolloutAPIStandIn, subject: str = "ada", n: int = 0) -> dict[str, str]:
    token = TokenIssuer(CLIENT_ID, SECRET, clock=lambda: NOW).mint(subject)
    return {
        "Authorization": f"Bearer {token}",
        "X-Rollout-Credential-Id": stand_in.credentials_for(subject)[n]["id"],
    }


def test_people_are_created_and_paged(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    ada = headers(stand_in)
    for i in range(5):
        created = client.post("/people", json={"name": f"P{i}", "id": "mine"}, headers=ada)
        assert created.status_code == 201
        assert created.json()["id"] != "mine"
        assert created.json()["createdAt"] == "2030-03-17T17:46:40.000Z"
    first = client.get("/people", params={"limit": 2}, headers=ada).json()
    metadata = first["_metadata"]
    assert [p["name"] for p in first["people"]] == ["P0", "P1"]
    assert {k: metadata[k] for k in ("collection", "offset", "limit", "total")} == {
        "collection": "people",
        "offset": 0,
        "limit": 2,
        "total": 5,
    }
    assert metadata["nextLink"] == f"http://rollout.test/people?limit=2&next={metadata['next']}"
    second = client.get("/people", params={"limit": 2, "next": metadata["next"]}, headers=ada)
    assert [p["name"] for p in second.json()["people"]] == ["P2", "P3"]
    last = client.get("/people", params={"offset": 4}, headers=ada).json()
    assert [p["name"] for p in last["people"]] == ["P4"]
    assert (last["_metadata"]["next"], last["_metadata"]["nextLink"]) == (None, None)
    assert client.get("/people", headers=headers(stand_in, n=1)).json()["people"] == []
    assert [p["name"] for p in stand_in.people_for(ada["X-Rollout-Credential-Id"])] == [
        f"P{i}" for i in range(5)
    ]


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"offset": "-1"}, {"next": "garbage"}],
)
def test_bad_paging_parameters(
    stand_in: RolloutAPIStandIn, client: TestClient, params: dict[str, str]
) -> None:
    response = client.get("/people", params=params, headers=headers(stand_in))
    assert response.status_code == 400
    assert list(response.json()) == ["errorMessage"]


def test_the_crm_needs_a_credential_of_the_tokens_user(
    stand_in: RolloutAPIStandIn, client: TestClient
) -> None:
    ada = headers(stand_in)
    missing = client.get("/people", headers={"Authorization": ada["Authorization"]})
    assert missing.status_code == 400
    assert missing.json() == {"errorMessage": "Missing header: X-Rollout-Credential-Id"}
    graces = {
        **ada,
        "X-Rollout-Credential-Id": headers(stand_in, "grace")["X-Rollout-Credential-Id"],
    }
    for method in ("GET", "POST"):
        refused = client.request(
            method, "/webhooks", json={"url": "https://a.test"}, headers=graces
        )
        assert refused.status_code == 404
        assert refused.json() == {"errorMessage": "Credential not found"}
    assert client.get("/people").json() == {
        "errorMessage": "Missing token: send 'Authorization: Bearer <token>'"
    }


def test_webhooks(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    ada, other = headers(stand_in), headers(stand_in, n=1)
    bad = client.post("/webhooks", json={"url": "ftp://x"}, headers=ada)
    assert bad.json() == {"errorMessage": "url must be an http(s) URL"}
    assert client.post("/webhooks", content=b"[", headers=ada).status_code == 400
    created = client.post("/webhooks", json={"url": "https://a.test/h", "event": "x"}, headers=ada)
    assert created.status_code == 201
    webhook = created.json()
    assert (webhook["url"], webhook["event"]) == ("https://a.test/h", "x")
    listed = client.get("/webhooks", headers=ada).json()
    assert listed["_metadata"]["collection"] == "webhooks"
    assert listed["webhooks"] == [webhook]
    assert client.get(f"/webhooks/{webhook['id']}", headers=ada).json() == webhook
    assert client.get(f"/webhooks/{webhook['id']}", headers=other).status_code == 404
    assert client.delete(f"/webhooks/{webhook['id']}", headers=ada).status_code == 204
    gone = client.get(f"/webhooks/{webhook['id']}", headers=ada)
    assert gone.json() == {"errorMessage": "Webhook not found"}
    assert stand_in.webhooks_for(ada["X-Rollout-Credential-Id"]) == []


def test_each_api_answers_in_its_own_error_shape(
    stand_in: RolloutAPIStandIn, client: TestClient
) -> None:
    ada = headers(stand_in)
    assert client.put("/people", headers=ada).json() == {"errorMessage": "Method Not Allowed"}
    assert client.put("/webhooks/1", headers=ada).status_code == 405
    assert client.put("/connectors", headers=ada).json() == {
        "errors": [{"message": "Method Not Allowed"}]
    }
    stand_in.force_status(503, 2)
    assert client.get("/credentials", headers=ada).json() == {
        "errors": [{"message": "Service Unavailable"}]
    }
    assert client.get("/people", headers=ada).json() == {"errorMessage": "Service Unavailable"}


def test_force_status(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    ada = headers(stand_in)
    stand_in.force_status(409, 2)
    assert client.get("/people").status_code == 401  # a refused token does not use one up
    assert stand_in.pending_forced_status == 2
    for _ in range(2):
        refused = client.get("/people", headers=ada)
        assert (refused.status_code, refused.json()) == (
            409,
            {"errorMessage": DATA_NOT_READY_MESSAGE},
        )
    assert client.get("/people", headers=ada).status_code == 200
    stand_in.force_status(429, 1, retry_after="7")
    limited = client.post("/people", json={}, headers=ada)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert "Rate limit" in limited.json()["errorMessage"]
    assert stand_in.people_for(ada["X-Rollout-Credential-Id"]) == []
    assert "retry-after" not in client.get("/people", headers=ada).headers
    stand_in.force_status(500, 3)
    stand_in.force_status(500, 0)
    assert client.get("/people", headers=ada).status_code == 200
    for status, n in [(401, 1), (399, 1), (600, 1), (500, -1)]:
        with pytest.raises(ValueError, match=r"status|negative"):
            stand_in.force_status(status, n)


def test_force_status_over_http(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    ada = headers(stand_in)
    answer = client.post("/_stand-in/force-status", params={"status": 502, "retry_after": "1"})
    assert answer.json() == {"pending": 1}
    refused = client.get("/people", headers=ada)
    assert (refused.status_code, refused.headers["retry-after"]) == (502, "1")
    assert client.post("/_stand-in/force-status", params={"status": "x"}).status_code == 400
    assert client.post("/_stand-in/force-status", params={"status": 401}).status_code == 400
    [record] = client.get("/_stand-in/requests").json()
    assert (record["status"], record["credential_id"]) == (502, ada["X-Rollout-Credential-Id"])
