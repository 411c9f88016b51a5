"""rollout_middleware.contrib.litestar: Litestar's own SessionAuth decides the user, the plugin's
route serves the token; Litestar's DI, guards, exception handlers and OpenAPI schema apply to it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from litestar import Litestar, Request, di, get, params, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.response import Response
from litestar.security.session_auth import SessionAuth
from litestar.testing import TestClient

from rollout_middleware import ConfigurationError
from rollout_middleware.contrib.litestar import RolloutTokenPlugin
from rollout_middleware.resolvers import authenticated_user

from ..support import CLIENT_ID, SECRET, verify_token

#: A dependency's parameter, as each Litestar spells it: newer ones deprecate an inferred one.
Account = di.NamedDependency[str] if hasattr(di, "NamedDependency") else str
#: A header parameter, as each Litestar spells it (newer ones deprecate Parameter(header=...)).
USER_HEADER = (
    params.HeaderParameter(name="x-authenticated-user")
    if hasattr(params, "HeaderParameter")
    else params.Parameter(header="x-authenticated-user")
)

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": SECRET}
ADA = uuid.UUID("12345678-1234-5678-1234-567812345678")


@dataclass
class User:
    id: uuid.UUID
    name: str


USERS = {str(ADA): User(ADA, "ada"), "7": User(7, "grace")}  # type: ignore[arg-type]


async def retrieve_user(
    session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]
) -> User | None:
    return USERS.get(session.get("user_id", ""))


@post("/login", exclude_from_auth=True)
async def login(request: Request[Any, Any, Any]) -> str:
    request.set_session({"user_id": request.query_params["user"]})
    return "ok"


@get("/hello", exclude_from_auth=True)
async def hello() -> str:
    return "hello"


calls: list[str] = []


async def current_user_id(request: Request[User, Any, Any]) -> uuid.UUID:
    calls.append(request.method)
    return request.user.id


def make_app(
    user_id: Any = current_user_id,
    *,
    exclude_http_methods: list[Any] | None = None,
    **plugin: Any,
) -> Litestar:
    auth = SessionAuth[User, Any](
        retrieve_user_handler=retrieve_user,
        session_backend_config=ServerSideSessionConfig(),
        exclude=["/schema"],
        **({} if exclude_http_methods is None else {"exclude_http_methods": exclude_http_methods}),
    )
    options = {**CREDENTIALS, **plugin}
    return Litestar(
        [login, hello],
        on_app_init=[auth.on_app_init],
        plugins=[RolloutTokenPlugin(user_id, **options)],
        logging_config=None,
    )


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    calls.clear()
    with TestClient(make_app(allowed_origins=["https://app.example.com"])) as client:
        yield client


def login_as(client: TestClient[Litestar], user: str = str(ADA)) -> None:
    assert client.post("/login", params={"user": user}).status_code == 201


def test_the_logged_in_user_gets_a_token_for_their_uuid(client: TestClient[Litestar]) -> None:
    login_as(client)
    response = client.get("/rollout-token")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert verify_token(response.json()["token"])["sub"] == str(ADA)
    assert response.json()["expires_in"] == 900


def test_an_int_id_too(client: TestClient[Litestar]) -> None:
    login_as(client, "7")
    assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "7"


def test_nobody_is_refused_by_litestars_auth_middleware(client: TestClient[Litestar]) -> None:
    response = client.get("/rollout-token")
    assert response.status_code == 401
    assert response.json() == {"status_code": 401, "detail": "no session data found"}
    assert calls == []


def test_user_id_none_is_401() -> None:
    async def session_user_id(request: Request[Any, Any, Any]) -> Any:
        return request.session.get("user_id")

    app = make_app(session_user_id, route_options={"opt": {"exclude_from_auth": True}})
    with TestClient(app) as client:
        response = client.get("/rollout-token")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        login_as(client)
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == str(ADA)


def test_cross_site_is_403_before_user_id_runs(client: TestClient[Litestar]) -> None:
    login_as(client)
    response = client.get("/rollout-token", headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert calls == []


def test_other_methods_405_and_preflight_before_user_id(client: TestClient[Litestar]) -> None:
    login_as(client)
    response = client.post("/rollout-token")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    preflight = client.options(
        "/rollout-token",
        headers={"origin": "https://app.example.com", "access-control-request-method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "content-type" not in preflight.headers
    assert calls == []


def test_head_under_the_default_exclude_http_methods_is_a_logged_500(
    client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    """SessionAuth skips HEAD (and OPTIONS) by default: request.user is not set."""
    login_as(client)
    for _ in range(2):
        response = client.head("/rollout-token")
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
    [record] = [r for r in caplog.records if r.name == "rollout_middleware"]  # logged once
    assert 'exclude_http_methods=["OPTIONS"]' in record.getMessage()


def test_head_when_auth_covers_it() -> None:
    with TestClient(make_app(exclude_http_methods=["OPTIONS"])) as client:
        assert client.head("/rollout-token").status_code == 401
        login_as(client)
        head, got = client.head("/rollout-token"), client.get("/rollout-token")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.headers["content-type"] == "application/json"


def test_the_route_is_in_the_openapi_schema(client: TestClient[Litestar]) -> None:
    schema = client.get("/schema/openapi.json").json()
    operation = schema["paths"]["/rollout-token"]["get"]
    assert set(schema["paths"]["/rollout-token"]) == {"get"}
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    model = schema["components"]["schemas"][ok.rsplit("/", 1)[1]]
    assert set(model["properties"]) == {"token", "expires_at", "expires_in"}
    assert set(model["required"]) == {"token", "expires_at", "expires_in"}
    assert {"401", "403", "405", "413", "500", "503"} <= set(operation["responses"])
    assert operation["operationId"] == "getRolloutToken"


def test_route_options_reach_the_route_handler() -> None:
    async def refuse_guests(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
        if connection.user.name == "grace":
            raise PermissionDeniedException("not grace")

    app = make_app(route_options={"guards": [refuse_guests], "tags": ["auth"]})
    with TestClient(app) as client:
        assert client.get("/schema/openapi.json").json()["paths"]["/rollout-token"]["get"][
            "tags"
        ] == ["auth"]
        login_as(client, "7")
        assert client.get("/rollout-token").json()["detail"] == "not grace"
        login_as(client)
        assert client.get("/rollout-token").status_code == 200


class Unknown(Exception):
    pass


def test_exceptions_of_user_id(caplog: pytest.LogCaptureFixture) -> None:
    async def failing(request: Request[Any, Any, Any]) -> Any:
        kind = request.headers["x-fail"]
        if kind == "http":
            raise NotAuthorizedException("go away")
        if kind == "handled":
            raise Unknown
        raise RuntimeError("the database is down")

    def handled(request: Request[Any, Any, Any], exc: Unknown) -> Response[str]:
        return Response("the app's page", status_code=418)

    plugin = RolloutTokenPlugin(failing, **CREDENTIALS)
    app = Litestar(plugins=[plugin], exception_handlers={Unknown: handled}, logging_config=None)
    with TestClient(app) as client:
        http = client.get("/rollout-token", headers={"x-fail": "http"})
        assert (http.status_code, http.json()["detail"]) == (401, "go away")  # Litestar's own
        assert client.get("/rollout-token", headers={"x-fail": "handled"}).text == "the app's page"
        failed = client.get("/rollout-token", headers={"x-fail": "other"})
        assert failed.status_code == 500
        assert failed.headers["content-type"] == "application/problem+json"
    assert "the database is down" in caplog.text


def from_scope(attribute: str) -> Any:
    resolve = authenticated_user(attribute)

    async def user_id(request: Request[Any, Any, Any]) -> Any:
        return await resolve(request.scope)

    return user_id


def test_authenticated_user_reads_litestars_user(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 21: Litestar's users have no is_authenticated; it was a silent 401 for everyone."""
    with TestClient(make_app(from_scope("id"))) as client:
        login_as(client)
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == str(ADA)
    with TestClient(make_app(from_scope("identity"))) as client:
        login_as(client)
        assert client.get("/rollout-token").status_code == 500
    assert "has no attribute 'identity'; give the name of its id" in caplog.text


@pytest.mark.parametrize("keys", [("app", "litestar_app"), ("app",)], ids=["newer", "2.13"])
def test_authenticated_user_knows_litestar_by_its_app(keys: tuple[str, ...]) -> None:
    """Litestar 2.13 puts itself in scope["app"] only, with no "litestar_app" key."""

    class SubclassedApp(Litestar):
        pass

    user = User(ADA, "Ada")
    scope: dict[str, Any] = {key: SubclassedApp() for key in keys}
    assert asyncio.run(authenticated_user("id")(scope | {"user": user})) == ADA
    with pytest.raises(ConfigurationError, match="Litestar's authentication middleware"):
        asyncio.run(authenticated_user("id")(scope))
    with pytest.raises(ConfigurationError, match="with no is_authenticated"):
        asyncio.run(authenticated_user("id")({"app": object(), "user": user}))


def test_no_credentials_the_app_builds_and_the_token_is_503(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)

    async def ada() -> str:
        return "ada"

    app = Litestar([login, hello], plugins=[RolloutTokenPlugin(ada)], logging_config=None)
    with TestClient(app) as client:
        assert client.get("/hello").text == "hello"
        assert client.get("/rollout-token").status_code == 503
    assert "ROLLOUT_CLIENT_ID" in caplog.text


def test_a_route_named_for_url_building(client: TestClient[Litestar]) -> None:
    assert client.app.route_reverse("rollout_token") == "/rollout-token"


def test_a_post_body_is_counted_and_kept() -> None:
    async def body_user(request: Request[Any, Any, Any]) -> str:
        return (await request.body()).decode()

    app = Litestar(
        plugins=[RolloutTokenPlugin(body_user, methods=["POST"], max_body_size=8, **CREDENTIALS)],
        logging_config=None,
    )
    with TestClient(app) as client:
        assert (
            verify_token(client.post("/rollout-token", content=b"ada").json()["token"])["sub"]
            == "ada"
        )
        assert client.post("/rollout-token", content=b"x" * 9).status_code == 413
        chunks = iter([b"0123", b"45678"])
        assert client.post("/rollout-token", content=chunks).status_code == 413


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ttl": 0}, ConfigurationError, "ttl"),
        ({"ttl_seconds": 60}, TypeError, "did you mean 'ttl'"),
        ({"resolve_user": lambda scope: None}, TypeError, "Litestar dependency"),
        ({"path": "token"}, ConfigurationError, "path"),
        ({"methods": ["PROPFIND"]}, ConfigurationError, "PROPFIND"),
        ({"route_options": {"gaurds": []}}, TypeError, "did you mean 'guards'"),
        ({"route_options": {"cache": 60}}, TypeError, "never be cached"),
    ],
)
def test_a_wrong_option_raises_at_construction(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        RolloutTokenPlugin(current_user_id, **kwargs)


def test_user_id_must_be_callable() -> None:
    with pytest.raises(ConfigurationError, match="user_id must be a Litestar dependency"):
        RolloutTokenPlugin("user.id")  # type: ignore[arg-type]


def test_logging_is_unaffected(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rollout_middleware")
    with TestClient(make_app()) as client:
        login_as(client)
        client.get("/rollout-token")
    assert "Issued a Rollout token for user '12345678-1234-5678-1234-567812345678'" in caplog.text


def test_a_sync_user_id_in_a_worker_thread_is_checked_too() -> None:
    """``Provide(..., sync_to_thread=True)`` wraps the function in Litestar's ``AsyncCallable``,
    whose signature says nothing: the checks read the function inside."""
    with pytest.raises(ConfigurationError, match="parameter 'user' from the query string"):
        Litestar(plugins=[RolloutTokenPlugin(di.Provide(from_the_query, sync_to_thread=True))])


def test_a_user_id_the_client_could_choose_is_refused_when_the_app_is_built() -> None:
    from litestar import Litestar
    from litestar.di import Provide

    from rollout_middleware.contrib.litestar import RolloutTokenPlugin

    async def from_the_query(user: str) -> str:
        return user

    with pytest.raises(ConfigurationError, match="parameter 'user' from the query string"):
        Litestar(plugins=[RolloutTokenPlugin(from_the_query)])

    async def from_a_header(user: Annotated[str, USER_HEADER]) -> str:
        return user

    async def from_a_dependency(account: Account) -> str:
        return account

    Litestar(plugins=[RolloutTokenPlugin(from_a_header)])
    Litestar(
        plugins=[RolloutTokenPlugin(from_a_dependency)],
        dependencies={"account": Provide(lambda: "ada", sync_to_thread=False)},
    )


class Member:
    id = ADA


async def member() -> Member:
    return Member()


async def member_or_none() -> Member | None:
    return None


async def member_id() -> uuid.UUID | None:
    return ADA


def sync_member() -> Member:
    return Member()


def from_the_query(user: str) -> str:
    return user


@pytest.mark.parametrize(
    "user_id",
    [
        member,
        member_or_none,
        di.Provide(member_or_none),
        di.Provide(sync_member, sync_to_thread=True),
    ],
)
def test_a_user_id_annotated_to_return_the_user_is_refused_when_the_app_is_built(
    user_id: Any,
) -> None:
    with pytest.raises(ConfigurationError, match="not a user id: return the user's id"):
        Litestar(plugins=[RolloutTokenPlugin(user_id, **CREDENTIALS)])
    Litestar(plugins=[RolloutTokenPlugin(member_id, **CREDENTIALS)])
