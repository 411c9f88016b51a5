"""``RolloutTokenAPIView`` in OpenAPI schemas: DRF's own generator (``generateschema``) and
drf-spectacular's (``spectacular``), with the token answer and its errors, and one operationId per
route (issue 22, item 8)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.django_project.testing import ensure_django
from tests.support import PYTHON, subprocess_env, suite_only_dir

SPECTACULAR = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
ROUTES = (
    "/api/rollout-token",
    "/api/v2/rollout-token",
    "/api/session/rollout-token",
    "/api/tagged/rollout-token",
)


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


def _urlconf() -> Any:
    from tests.django_project import urls_schema

    return urls_schema


def _manage(command: str, settings: str, tmp_path: Path) -> dict[str, Any]:
    """``python -m django COMMAND`` in a fresh process, warnings as errors; its YAML schema."""
    env = subprocess_env(
        {"DJANGO_SETTINGS_MODULE": settings, "ROLLOUT_DJANGO_TEST_DB": str(tmp_path / "db")}
    )
    argv = [PYTHON, "-W", "error", "-m", "django", *command.split()]
    done = subprocess.run(
        argv,
        cwd=suite_only_dir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    schema: dict[str, Any] = yaml.safe_load(done.stdout)
    return schema


def _assert_token_operation(operation: dict[str, Any]) -> None:
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert {name: field["type"] for name, field in ok["properties"].items()} == {
        "token": "string",
        "expires_at": "integer",
        "expires_in": "integer",
    }
    assert ok["required"] == ["token", "expires_at", "expires_in"]
    for status in ("401", "403", "503"):
        assert "application/problem+json" in operation["responses"][status]["content"]
    assert "requestBody" not in operation


def test_manage_py_spectacular(tmp_path: Path) -> None:
    """``manage.py spectacular --fail-on-warn --validate`` with the view in the URLconf."""
    schema = _manage(
        "spectacular --fail-on-warn --validate",
        "tests.django_project.settings_spectacular",
        tmp_path,
    )
    paths = schema["paths"]
    assert set(paths["/drf/rollout-token"]) == {"get"}
    _assert_token_operation(paths["/drf/rollout-token"]["get"])
    _assert_token_operation(paths["/drf/throttled/rollout-token"]["get"])


def test_manage_py_generateschema(tmp_path: Path) -> None:
    """DRF's own ``generateschema``, with no warning (a duplicated operationId is one)."""
    schema = _manage("generateschema", "tests.django_project.settings", tmp_path)
    paths = schema["paths"]
    assert set(paths["/drf/rollout-token"]) == {"get"}
    _assert_token_operation(paths["/drf/rollout-token"]["get"])
    assert paths["/drf/rollout-token"]["get"]["operationId"] == "getDrfRolloutToken"
    assert (
        paths["/drf/throttled/rollout-token"]["get"]["operationId"] == "getDrfThrottledRolloutToken"
    )


def test_drf_generator_one_operation_id_per_route() -> None:
    """The class twice and a subclass: DRF would warn of a duplicated operationId (an error
    here: the suite turns warnings into errors)."""
    from rest_framework.schemas.openapi import SchemaGenerator

    # Not the @extend_schema subclass: drf-spectacular's annotations need its generator.
    generator = SchemaGenerator(patterns=_urlconf().urlpatterns[:3])
    schema = generator.get_schema(request=None, public=True)
    assert set(schema["paths"]) == set(ROUTES[:3])
    ids = [schema["paths"][route]["get"]["operationId"] for route in ROUTES[:3]]
    assert ids == ["getApiRolloutToken", "getApiV2RolloutToken", "getApiSessionRolloutToken"]
    for route in ROUTES[:3]:
        _assert_token_operation(schema["paths"][route]["get"])


def test_spectacular_generator_describes_every_route() -> None:
    from django.test import override_settings
    from drf_spectacular.generators import SchemaGenerator

    with override_settings(REST_FRAMEWORK=SPECTACULAR):
        generator = SchemaGenerator(urlconf="tests.django_project.urls_schema")
        schema = generator.get_schema(request=None, public=True)
    operations = [schema["paths"][route]["get"] for route in ROUTES]
    assert len({operation["operationId"] for operation in operations}) == len(ROUTES)
    for operation in operations:
        _assert_token_operation(operation)
    # A subclass annotated with @extend_schema keeps the token answer, with its own tags.
    assert operations[3]["tags"] == ["auth"]
    assert "auth" not in operations[0]["tags"]


def test_operation_id_base_names_the_operation() -> None:
    from django.urls import path
    from rest_framework.schemas.openapi import SchemaGenerator

    from rollout_middleware.contrib.drf import RolloutTokenAPIView, RolloutTokenSchema

    class Named(RolloutTokenAPIView):
        schema = RolloutTokenSchema(operation_id_base="RolloutToken", tags=["auth"])

    generator = SchemaGenerator(patterns=[path("api/rollout-token", Named.as_view())])
    operation = generator.get_schema(request=None, public=True)["paths"]["/api/rollout-token"]
    assert operation["get"]["operationId"] == "getRolloutToken"
    assert operation["get"]["tags"] == ["auth"]


def test_a_coreapi_or_other_inspector_is_the_projects() -> None:
    """A ``DEFAULT_SCHEMA_CLASS`` that is neither DRF's ``AutoSchema`` nor drf-spectacular's is
    used as it is, as DRF's default ``schema`` would."""
    from django.test import override_settings
    from rest_framework.schemas.inspectors import ViewInspector

    from rollout_middleware.contrib.drf import RolloutTokenAPIView

    with override_settings(
        REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.inspectors.ViewInspector"}
    ):
        assert type(RolloutTokenAPIView().schema) is ViewInspector
