"""``rollout_token_router`` in the shape of FastAPI's official full-stack template.

The template's ``custom_generate_unique_id`` (``f"{route.tags[0]}-{route.name}"``), an
``api_router`` of tagged routers, settings from pydantic-settings (``SecretStr``), ``CurrentUser``
and its ``user.id`` (a ``UUID``). Tests use FastAPI's ``TestClient``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from rollout_middleware.contrib.fastapi import rollout_token_router

from ..support import CLIENT_ID, SECRET, verify_token

USER_ID = uuid.UUID("0b3a3c0e-4f5e-4d6c-9a1b-2c3d4e5f6a7b")


def custom_generate_unique_id(route: APIRoute) -> str:  # the template's app/main.py
    return f"{route.tags[0]}-{route.name}"


class User(BaseModel):
    id: uuid.UUID
    is_active: bool = True


def get_current_user(authorization: Annotated[str | None, Header()] = None) -> User:
    if authorization != "Bearer good":
        raise HTTPException(403, "Could not validate credentials")
    return User(id=USER_ID)


CurrentUser = Annotated[User, Depends(get_current_user)]


def current_user_id(user: CurrentUser) -> uuid.UUID:
    return user.id


class Settings(BaseSettings):
    ROLLOUT_CLIENT_ID: str
    ROLLOUT_CLIENT_SECRET: SecretStr


def items_router() -> APIRouter:
    router = APIRouter(prefix="/items", tags=["items"])

    @router.get("/")
    def read_items() -> list[str]:
        return ["a"]

    return router


def create_app(settings: Settings, **router_options: object) -> FastAPI:
    app = FastAPI(generate_unique_id_function=custom_generate_unique_id)
    api_router = APIRouter()
    api_router.include_router(
        rollout_token_router(
            current_user_id,
            client_id=settings.ROLLOUT_CLIENT_ID,
            client_secret=settings.ROLLOUT_CLIENT_SECRET,
            **router_options,  # type: ignore[arg-type]
        )
    )
    api_router.include_router(items_router())  # included after the token router
    app.include_router(api_router, prefix="/api/v1")
    return app


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    return Settings(ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_CLIENT_SECRET=SecretStr(SECRET))


def test_the_templates_unique_ids_with_tags(settings: Settings) -> None:
    """With ``tags``, the template's ``route.tags[0]`` works: the schema, the token route and the
    routes included after it answer; the credentials come from pydantic-settings' ``SecretStr``."""
    with TestClient(create_app(settings, tags=["rollout"])) as client:
        schema = client.get("/openapi.json")
        token = client.get("/api/v1/rollout-token", headers={"Authorization": "Bearer good"})
        items = client.get("/api/v1/items/")
        refused = client.get("/api/v1/rollout-token")
    assert schema.status_code == 200
    operation = schema.json()["paths"]["/api/v1/rollout-token"]["get"]
    assert (operation["operationId"], operation["tags"]) == ("rollout-rollout_token", ["rollout"])
    assert verify_token(token.json()["token"])["sub"] == str(USER_ID)
    assert items.json() == ["a"]
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "Could not validate credentials"},
    )


def test_router_arguments_reach_the_route(settings: Settings) -> None:
    seen: list[str] = []

    def audit(x_request_id: Annotated[str | None, Header()] = None) -> None:
        seen.append(x_request_id or "-")

    app = create_app(
        settings,
        tags=["rollout"],
        dependencies=[Depends(audit)],
        responses={429: {"description": "Too many requests"}},
        deprecated=True,
    )
    with TestClient(app) as client:
        client.get(
            "/api/v1/rollout-token", headers={"Authorization": "Bearer good", "X-Request-Id": "r1"}
        )
        operation = client.get("/openapi.json").json()["paths"]["/api/v1/rollout-token"]["get"]
    assert seen == ["r1"]
    assert operation["deprecated"] is True
    assert "429" in operation["responses"]
    assert "401" in operation["responses"]


def test_include_in_schema_false(settings: Settings) -> None:
    with TestClient(create_app(settings, tags=["rollout"], include_in_schema=False)) as client:
        assert "/api/v1/rollout-token" not in client.get("/openapi.json").json()["paths"]
        assert (
            client.get(
                "/api/v1/rollout-token", headers={"Authorization": "Bearer good"}
            ).status_code
            == 200
        )


def test_a_router_level_unique_id_function(settings: Settings) -> None:
    app = FastAPI(generate_unique_id_function=custom_generate_unique_id)
    app.include_router(
        rollout_token_router(
            current_user_id,
            client_id=settings.ROLLOUT_CLIENT_ID,
            client_secret=settings.ROLLOUT_CLIENT_SECRET,
            generate_unique_id_function=lambda route: "getRolloutToken",
        )
    )
    with TestClient(app) as client:
        operation = client.get("/openapi.json").json()["paths"]["/rollout-token"]["get"]
    assert operation["operationId"] == "getRolloutToken"


def test_including_the_router_twice(settings: Settings) -> None:
    """At two prefixes, one router serves both paths. At the same path, the first copy answers
    every request and FastAPI warns of the duplicate operation in ``/openapi.json``."""
    router = rollout_token_router(
        current_user_id,
        tags=["rollout"],
        client_id=settings.ROLLOUT_CLIENT_ID,
        client_secret=settings.ROLLOUT_CLIENT_SECRET,
    )
    app = FastAPI()
    app.include_router(router, prefix="/a")
    app.include_router(router, prefix="/b")
    auth = {"Authorization": "Bearer good"}
    with TestClient(app) as client:
        for prefix in ("/a", "/b"):
            assert client.get(f"{prefix}/rollout-token", headers=auth).status_code == 200
        assert set(client.get("/openapi.json").json()["paths"]) == {
            "/a/rollout-token",
            "/b/rollout-token",
        }
    twice = FastAPI()
    twice.include_router(router)
    twice.include_router(router)
    with TestClient(twice) as client:
        assert client.get("/rollout-token", headers=auth).status_code == 200
        with pytest.warns(UserWarning, match="Duplicate Operation ID"):
            client.get("/openapi.json")


def test_tests_need_no_rollout_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    app = FastAPI()
    app.include_router(rollout_token_router(current_user_id, tags=["rollout"]))
    app.dependency_overrides[current_user_id] = lambda: USER_ID
    with TestClient(app) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/rollout-token").status_code == 503  # no credentials: no token


TYPED = """
from typing import Annotated
from uuid import UUID

from fastapi import Depends
from pydantic import BaseModel

from rollout_middleware.contrib.fastapi import rollout_token_router


class User(BaseModel):
    id: UUID


def get_current_user() -> User:
    return User(id=UUID(int=1))


def current_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    return user


def current_user_id(user: Annotated[User, Depends(get_current_user)]) -> UUID | None:
    return user.id


async def async_user_id() -> str | None:
    return None


rollout_token_router(current_user_id)
rollout_token_router(async_user_id)
rollout_token_router(current_user)  # the User, not its id
"""


@pytest.mark.slow  # mypy comes with the lint extra: the README's suite, not the wheel runs
def test_mypy_flags_a_dependency_that_returns_the_user(tmp_path: Path) -> None:
    program = tmp_path / "app_typed.py"
    program.write_text(textwrap.dedent(TYPED))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(program),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, result.stdout + result.stderr
    line = (
        textwrap.dedent(TYPED)
        .splitlines()
        .index("rollout_token_router(current_user)  # the User, not its id")
    )
    assert f"app_typed.py:{line + 1}:" in errors[0]
    assert 'Argument 1 to "rollout_token_router"' in errors[0]
