"""The Rollout API stand-in: token checks, routes, records and controls."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from rollout_middleware import (
    RolloutTokenEndpoint,
    RolloutTokenWSGIEndpoint,
    TokenIssuer,
)
from rollout_middleware.testing import DEFAULT_CONNECTORS, Rejection, RolloutAPIStandIn
from tests.support import CLIENT_ID, SECRET

OTHER_SECRET = "0" * 64
NOW = 1_900_000_000


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": CLIENT_ID, "sub": "ada", "iat": NOW - 10, "exp": NOW + 890}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def signed(signing_input: str) -> str:
    digest = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha512).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def good_token(subject: str = "ada", *, at: float = NOW) -> str:
    return TokenIssuer(CLIENT_ID, SECRET, clock=lambda: at).mint(subject)


@pytest.fixture
def stand_in() -> RolloutAPIStandIn:
    api = RolloutAPIStandIn(CLIENT_ID, SECRET, clock=lambda: NOW, expose_controls=True)
    api.add_credential("ada", "follow-up-boss", label="Ada's Follow Up Boss", avatar="https://a/x")
    api.add_credential("ada", "dotloop")
    api.add_credential("grace", "hubspot", label="Grace's HubSpot")
    return api


@pytest.fixture
def client(stand_in: RolloutAPIStandIn) -> Iterator[TestClient]:
    with TestClient(stand_in, base_url="http://rollout.test") as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- tokens it accepts ---------------------------------------------------------------------------


def test_valid_token_lists_that_users_credentials_and_is_recorded(
    stand_in: RolloutAPIStandIn, client: TestClient
) -> None:
    token = good_token("ada")
    response = client.get(
        "/credentials",
        params={"includeProfile": "true"},
        headers={**bearer(token), "X-Rollout-User-Agent": "@rollout/link-react@0.14.0"},
    )
    assert response.status_code == 200
    body = response.json()
    assert [c["appKey"] for c in body] == ["follow-up-boss", "dotloop"]
    assert body[0]["label"] == "Ada's Follow Up Boss"
    assert body[0]["avatar"] == "https://a/x"
    assert body[1]["label"] == "dotloop"
    for credential in body:
        assert set(credential) >= {"id", "createdAt", "appKey", "label", "data"}
        assert credential["createdAt"].endswith("Z")
    (record,) = stand_in.requests
    assert (record.method, record.path, record.query, record.status) == (
        "GET",
        "/credentials",
        "includeProfile=true",
        200,
    )
    assert (record.token, record.subject, record.reason) == (token, "ada", None)
    assert record.as_json()["rollout_user_agent"] == "@rollout/link-react@0.14.0"
    assert stand_in.tokens_seen("ada") == [token]
    assert stand_in.tokens_seen("grace") == []


def test_without_include_profile_only_ids_dates_and_app_keys(client: TestClient) -> None:
    body = client.get("/credentials", headers=bearer(good_token("ada"))).json()
    assert [sorted(c) for c in body] == [["appKey", "createdAt", "id"]] * 2


def test_each_user_sees_only_their_own_credentials(client: TestClient) -> None:
    grace = client.get("/credentials?includeProfile=true", headers=bearer(good_token("grace")))
    assert [c["label"] for c in grace.json()] == ["Grace's HubSpot"]
    nobody = client.get("/credentials", headers=bearer(good_token("newcomer")))
    assert nobody.json() == []


@pytest.mark.parametrize("shell", ["asgi", "wsgi"])
def test_tokens_from_both_shells_are_accepted(stand_in: RolloutAPIStandIn, shell: str) -> None:
    """Our endpoint's tokens pass the stand-in's check, whichever shell served them."""
    real_time = RolloutAPIStandIn(CLIENT_ID, SECRET)
    real_time.add_credential("ada", "lofty")
    options: dict[str, Any] = {
        "resolve_user": lambda request: "ada",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    if shell == "asgi":
        endpoint = TestClient(RolloutTokenEndpoint(**options), base_url="http://app.test")
        token = endpoint.get("/rollout-token").json()["token"]
    else:
        wsgi = httpx.Client(
            transport=httpx.WSGITransport(app=RolloutTokenWSGIEndpoint(**options)),
            base_url="http://app.test",
        )
        with wsgi:
            token = wsgi.get("/rollout-token").json()["token"]
    api = TestClient(real_time, base_url="http://rollout.test")
    response = api.get("/credentials", headers=bearer(token))
    assert response.status_code == 200
    assert [c["appKey"] for c in response.json()] == ["lofty"]
    assert real_time.requests[-1].subject == "ada"


# -- tokens it refuses ---------------------------------------------------------------------------

REFUSED: dict[str, tuple[str, Rejection]] = {
    "expired": (good_token(at=NOW - 900), Rejection.EXPIRED),
    "expired long ago": (good_token(at=NOW - 86_400), Rejection.EXPIRED),
    "issued in the future": (good_token(at=NOW + 60), Rejection.NOT_YET_VALID),
    "wrong secret": (
        TokenIssuer(CLIENT_ID, OTHER_SECRET, clock=lambda: NOW).mint("ada"),
        Rejection.SIGNATURE,
    ),
    "tampered payload": (
        ".".join(
            (
                good_token().split(".")[0],
                b64(claims(sub="grace")),
                good_token().split(".")[2],
            )
        ),
        Rejection.SIGNATURE,
    ),
    "HS256": (jwt.encode(claims(), SECRET, algorithm="HS256"), Rejection.ALGORITHM),
    "HS384": (jwt.encode(claims(), SECRET, algorithm="HS384"), Rejection.ALGORITHM),
    "alg none, no signature": (
        b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims()) + ".",
        Rejection.ALGORITHM,
    ),
    "alg none, copied signature": (
        b64({"alg": "none"}) + "." + b64(claims()) + "." + good_token().split(".")[2],
        Rejection.ALGORITHM,
    ),
    "wrong issuer": (
        TokenIssuer("someone-else", SECRET, clock=lambda: NOW).mint("ada"),
        Rejection.ISSUER,
    ),
    "no iss": (jwt.encode(claims(iss=None), SECRET, algorithm="HS512"), Rejection.MISSING_CLAIM),
    "no sub": (jwt.encode(claims(sub=None), SECRET, algorithm="HS512"), Rejection.MISSING_CLAIM),
    "empty sub": (jwt.encode(claims(sub=""), SECRET, algorithm="HS512"), Rejection.MISSING_CLAIM),
    "no iat": (jwt.encode(claims(iat=None), SECRET, algorithm="HS512"), Rejection.MISSING_CLAIM),
    "no exp": (jwt.encode(claims(exp=None), SECRET, algorithm="HS512"), Rejection.MISSING_CLAIM),
    "numeric sub": (jwt.encode(claims(sub=7), SECRET, algorithm="HS512"), Rejection.INVALID_CLAIM),
    "text exp": (
        jwt.encode(claims(exp="tomorrow"), SECRET, algorithm="HS512"),
        Rejection.INVALID_CLAIM,
    ),
    "not a JWT": ("hello", Rejection.MALFORMED),
    "bad base64": ("a.b.c", Rejection.MALFORMED),
    "payload not JSON": (signed(b64({"alg": "HS512"}) + ".WzEsIDI"), Rejection.MALFORMED),
}


@pytest.mark.parametrize(("token", "reason"), list(REFUSED.values()), ids=list(REFUSED))
def test_refused_tokens_get_401_with_rollouts_error_shape(
    stand_in: RolloutAPIStandIn, client: TestClient, token: str, reason: Rejection
) -> None:
    response = client.get("/credentials", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert list(body) == ["errors"]
    (error,) = body["errors"]
    assert isinstance(error["message"], str)
    assert error["message"]
    (record,) = stand_in.requests
    assert (record.status, record.reason, record.token, record.subject) == (
        401,
        reason,
        token,
        None,
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": f"Basic {good_token()}"}],
    ids=["no header", "empty bearer", "basic scheme"],
)
def test_missing_bearer_token(
    stand_in: RolloutAPIStandIn, client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/credentials", headers=headers)
    assert response.status_code == 401
    assert "Bearer" in response.json()["errors"][0]["message"]
    assert stand_in.requests[-1].reason is Rejection.MISSING


def test_each_reason_has_its_own_message(client: TestClient) -> None:
    messages: dict[Rejection, str] = {}
    for token, reason in REFUSED.values():
        messages[reason] = client.get("/credentials", headers=bearer(token)).json()["errors"][0][
            "message"
        ]
    messages[Rejection.MISSING] = client.get("/credentials").json()["errors"][0]["message"]
    assert len(set(messages.values())) == len(messages) == len(Rejection) - 1  # all but FORCED


def test_expiry_follows_the_stand_ins_clock() -> None:
    now = [float(NOW)]
    api = RolloutAPIStandIn(CLIENT_ID, SECRET, clock=lambda: now[0])
    client = TestClient(api)
    token = good_token(at=NOW)  # exp = NOW + 900
    assert client.get("/credentials", headers=bearer(token)).status_code == 200
    now[0] = NOW + 899.5
    assert client.get("/credentials", headers=bearer(token)).status_code == 200
    now[0] = NOW + 900
    assert client.get("/credentials", headers=bearer(token)).status_code == 401
    assert api.requests[-1].reason is Rejection.EXPIRED


def test_default_clock_is_real_time() -> None:
    api = RolloutAPIStandIn(CLIENT_ID, SECRET)
    client = TestClient(api)
    fresh = TokenIssuer(CLIENT_ID, SECRET).mint("ada")
    stale = TokenIssuer(CLIENT_ID, SECRET, clock=lambda: time.time() - 1000).mint("ada")
    assert client.get("/credentials", headers=bearer(fresh)).status_code == 200
    assert client.get("/credentials", headers=bearer(stale)).status_code == 401


# -- forcing a 401 -------------------------------------------------------------------------------


def test_force_401_refuses_the_next_valid_requests_only(
    stand_in: RolloutAPIStandIn, client: TestClient
) -> None:
    token = good_token()
    stand_in.force_401(2)
    assert client.get("/credentials", headers=bearer("garbage")).status_code == 401
    assert stand_in.pending_forced_401 == 2  # an invalid token does not use one up
    first = client.get("/credentials", headers=bearer(token))
    assert first.status_code == 401
    assert "expired" in first.json()["errors"][0]["message"]
    assert client.get("/connectors", headers=bearer(token)).status_code == 401
    assert client.get("/credentials", headers=bearer(token)).status_code == 200
    assert [r.reason for r in stand_in.requests] == [
        Rejection.MALFORMED,
        Rejection.FORCED,
        Rejection.FORCED,
        None,
    ]
    with pytest.raises(ValueError, match="negative"):
        stand_in.force_401(-1)


def test_force_401_does_not_touch_icons(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    stand_in.force_401()
    assert client.get("/connectors/hubspot/icon").status_code == 200
    assert stand_in.pending_forced_401 == 1


# -- routes --------------------------------------------------------------------------------------


def test_connectors_have_the_shape_rollouts_client_reads(client: TestClient) -> None:
    response = client.get("/connectors", headers=bearer(good_token()))
    assert response.status_code == 200
    connectors = response.json()
    assert connectors == json.loads(json.dumps(DEFAULT_CONNECTORS))
    for connector in connectors.values():
        assert isinstance(connector["name"], str)
        for entities in connector["entities"].values():
            for crud in entities.values():
                assert set(crud) == {"list", "create", "update", "delete"}
        for plan in connector["authByPlan"].values():
            assert plan["type"] in {"apiToken", "oauth1", "oauth2"}
            assert isinstance(plan["userInputsSchema"], list)


def test_connectors_need_a_token(client: TestClient) -> None:
    assert client.get("/connectors").status_code == 401


def test_custom_connectors() -> None:
    catalogue = {"cinc": {"name": "CINC", "entities": {}, "authByPlan": {}}}
    api = RolloutAPIStandIn(CLIENT_ID, SECRET, connectors=catalogue)
    assert TestClient(api).get(
        "/connectors", headers=bearer(good_token(at=time.time()))
    ).json() == (catalogue)
    with pytest.raises(ValueError, match="unknown connector"):
        api.add_credential("ada", "hubspot")


def test_icons_are_public_svgs(client: TestClient) -> None:
    response = client.get("/connectors/follow-up-boss/icon")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.startswith("<svg")
    assert ">FU</text>" in response.text
    missing = client.get("/connectors/nope/icon")
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"message": "Connector not found"}]}


def test_delete_credential(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    ada = bearer(good_token("ada"))
    first_id = stand_in.credentials_for("ada")[0]["id"]
    grace_id = stand_in.credentials_for("grace")[0]["id"]
    assert client.delete("/credentials", params={"credentialId": grace_id}, headers=ada).json() == {
        "errors": [{"message": "Credential not found"}]
    }
    assert len(stand_in.credentials_for("grace")) == 1
    assert client.delete("/credentials", headers=ada).status_code == 400
    response = client.delete("/credentials", params={"credentialId": first_id}, headers=ada)
    assert response.status_code == 204
    assert [c["appKey"] for c in client.get("/credentials", headers=ada).json()] == ["dotloop"]
    again = client.delete("/credentials", params={"credentialId": first_id}, headers=ada)
    assert again.status_code == 404


def test_connect_an_api_token_connector(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    grace = bearer(good_token("grace"))
    body = {"appKey": "lofty", "userInputs": {"apiKey": "abcd-1234"}, "plan": "default"}
    response = client.post("/credentials", json=body, headers=grace)
    assert response.status_code == 200
    created = response.json()
    assert (created["appKey"], created["label"]) == ("lofty", "Lofty key ending 1234")
    assert created in stand_in.credentials_for("grace")
    assert "abcd-1234" not in json.dumps(stand_in.credentials_for("grace"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"appKey": "hubspot", "userInputs": {}}, "OAuth"),
        ({"appKey": "nope", "userInputs": {}}, "Unknown connector"),
        ({"appKey": "skyslope", "userInputs": {"accessKey": "k"}}, "accessSecret"),
        (["not", "an", "object"], "Unknown connector"),
    ],
)
def test_connect_refusals(client: TestClient, body: Any, message: str) -> None:
    response = client.post("/credentials", json=body, headers=bearer(good_token()))
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


def test_connect_needs_json(client: TestClient) -> None:
    response = client.post("/credentials", content=b"{", headers=bearer(good_token()))
    assert response.status_code == 400


def test_oauth_is_not_simulated(client: TestClient) -> None:
    response = client.post("/oauth/authorize-url", json={}, headers=bearer(good_token()))
    assert response.status_code == 501
    assert client.post("/oauth/authorize-url", json={}).status_code == 401


def test_unknown_paths_and_methods_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"message": "Not Found"}]}
    wrong = client.put("/connectors")
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["allow"]
    assert list(wrong.json()) == ["errors"]
    allowed = client.patch("/credentials").headers["allow"]
    assert {"GET", "POST", "DELETE"} <= {m.strip() for m in allowed.split(",")}


# -- mounting, controls, secrecy -----------------------------------------------------------------


def test_mounted_under_a_path_records_paths_relative_to_the_mount() -> None:
    api = RolloutAPIStandIn(CLIENT_ID, SECRET, clock=lambda: NOW)
    app = Starlette(routes=[Mount("/rollout-api", app=api)])
    with TestClient(app) as client:
        assert (
            client.get("/rollout-api/connectors", headers=bearer(good_token())).status_code == 200
        )
        assert client.get("/rollout-api/connectors/gmail/icon").status_code == 200
    assert [r.path for r in api.requests] == ["/connectors", "/connectors/gmail/icon"]


def test_http_controls(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    token = good_token()
    client.get("/credentials", headers=bearer(token))
    seen = client.get("/_stand-in/requests").json()
    assert [(r["path"], r["subject"], r["token"], r["status"]) for r in seen] == [
        ("/credentials", "ada", token, 200)
    ]
    assert client.post("/_stand-in/force-401", params={"n": "1"}).json() == {"pending": 1}
    assert client.get("/credentials", headers=bearer(token)).status_code == 401
    assert client.get("/_stand-in/requests").json()[-1]["reason"] == "forced"
    assert client.post("/_stand-in/force-401", params={"n": "x"}).status_code == 400
    assert client.delete("/_stand-in/requests").status_code == 204
    assert client.get("/_stand-in/requests").json() == []
    assert stand_in.requests == []


def test_controls_are_off_by_default() -> None:
    client = TestClient(RolloutAPIStandIn(CLIENT_ID, SECRET))
    assert client.get("/_stand-in/requests").status_code == 404
    assert client.post("/_stand-in/force-401").status_code == 404


def test_the_secret_never_shows(stand_in: RolloutAPIStandIn, client: TestClient) -> None:
    assert SECRET not in repr(stand_in)
    bodies = [
        client.get("/credentials", headers=bearer(token)).text for token, _ in REFUSED.values()
    ]
    bodies.append(client.get("/_stand-in/requests").text)
    assert not [body for body in bodies if SECRET in body]
    assert not [r for r in stand_in.requests if SECRET in repr(r)]


def test_refuses_empty_configuration() -> None:
    with pytest.raises(ValueError, match="client id"):
        RolloutAPIStandIn("", SECRET)
    with pytest.raises(ValueError, match="client id"):
        RolloutAPIStandIn(CLIENT_ID, b"")


@pytest.mark.parametrize("token", [None, "valid", "refused"])
def test_a_request_is_recorded_before_its_answer_is_sent(
    stand_in: RolloutAPIStandIn, token: str | None
) -> None:
    """A client that reads the records right after an answer (another connection, another test)
    must find that request there: it is recorded before the last body message goes out."""

    headers: list[tuple[bytes, bytes]] = []
    if token is not None:
        value = good_token() if token == "valid" else good_token() + "x"
        headers.append((b"authorization", f"Bearer {value}".encode()))
    seen_at_last_body: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            seen_at_last_body.append(len(stand_in.requests))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/credentials",
        "raw_path": b"/credentials",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(stand_in(scope, receive, send))
    assert seen_at_last_body == [1]
    assert len(stand_in.requests) == 1  # once, not again when the app returns
