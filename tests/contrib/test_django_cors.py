"""django-cors-headers beside ``RolloutTokenMiddleware`` (issue 22, item 12), as docs/django.md
says to set them up: its ``CorsMiddleware`` first in ``MIDDLEWARE``, then either the origin in both
lists, or ``CORS_URLS_REGEX`` leaving the token path to us. A refused origin is logged at INFO,
naming ``ROLLOUT_ALLOWED_ORIGINS``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.django_project.testing import ensure_django, make_user, new_password
from tests.support import ROOT, verify_token

OURS = "rollout_middleware.contrib.django.RolloutTokenMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
CORS = "corsheaders.middleware.CorsMiddleware"
APP = "https://app.example.com"
CROSS_SITE = {"Origin": APP, "Sec-Fetch-Site": "cross-site"}
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "GET"}


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    ensure_django()


@contextlib.contextmanager
def _project(**overrides: Any) -> Iterator[Any]:
    """The test project with CorsMiddleware at the top of MIDDLEWARE (as django-cors-headers
    says: before CommonMiddleware) and ours after AuthenticationMiddleware; a logged-in client."""
    from django.conf import settings
    from django.test import Client, override_settings

    middleware = [CORS, *settings.MIDDLEWARE]
    middleware.insert(middleware.index(AUTH) + 1, OURS)
    with override_settings(MIDDLEWARE=middleware, **overrides):
        client = Client()
        client.force_login(make_user(password=new_password()))
        yield client


def test_the_origin_in_both_lists() -> None:
    """django-cors-headers answers the preflight; the token answer carries our CORS headers."""
    with _project(
        CORS_ALLOWED_ORIGINS=[APP], CORS_ALLOW_CREDENTIALS=True, ROLLOUT_ALLOWED_ORIGINS=[APP]
    ) as client:
        preflight = client.options("/rollout-token", headers=PREFLIGHT)
        response = client.get("/rollout-token", headers=CROSS_SITE)
    assert preflight.status_code == 200  # django-cors-headers' own answer, not our 204
    assert preflight["Access-Control-Allow-Origin"] == APP
    assert preflight["Access-Control-Allow-Credentials"] == "true"
    assert response.status_code == 200, response.content
    assert verify_token(response.json()["token"])
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert [v.strip().lower() for v in response["Vary"].split(",")].count("origin") == 1


def test_the_token_path_left_to_us_by_cors_urls_regex() -> None:
    """``CORS_URLS_REGEX`` covers the API only: the token path's preflight is ours."""
    with _project(
        CORS_URLS_REGEX=r"^/api/.*$", CORS_ALLOWED_ORIGINS=[], ROLLOUT_ALLOWED_ORIGINS=[APP]
    ) as client:
        preflight = client.options("/rollout-token", headers=PREFLIGHT)
        response = client.get("/rollout-token", headers=CROSS_SITE)
    assert preflight.status_code == 204  # the package's preflight answer
    assert preflight["Access-Control-Allow-Origin"] == APP
    assert preflight["Access-Control-Allow-Methods"] == "GET"
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == APP


def test_an_origin_only_django_cors_headers_allows_is_refused_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The browser's preflight succeeds (django-cors-headers), the fetch gets 403: the log says
    which setting is missing."""
    with (
        _project(CORS_ALLOWED_ORIGINS=[APP], CORS_ALLOW_CREDENTIALS=True) as client,
        caplog.at_level(logging.INFO, logger="rollout_middleware"),
    ):
        assert client.options("/rollout-token", headers=PREFLIGHT).status_code == 200
        response = client.get("/rollout-token", headers=CROSS_SITE)
    assert response.status_code == 403
    (record,) = [r for r in caplog.records if r.name.startswith("rollout_middleware")]
    assert record.levelno == logging.INFO
    assert "ROLLOUT_ALLOWED_ORIGINS" in record.getMessage()
    assert repr(APP) in record.getMessage()
    assert "/rollout-token" in record.getMessage()
    # docs/django.md quotes the line as it is.
    assert record.getMessage() in (ROOT / "docs" / "django.md").read_text()


def test_the_refusal_is_logged_by_drf_view_and_async_middleware(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    from django.test import AsyncClient

    with (
        _project(CORS_ALLOWED_ORIGINS=[APP]) as client,
        caplog.at_level(logging.INFO, logger="rollout_middleware"),
    ):
        assert client.get("/drf/rollout-token", headers=CROSS_SITE).status_code == 403
        assert (
            asyncio.run(AsyncClient().get("/rollout-token", headers=CROSS_SITE)).status_code == 403
        )
    messages = [
        r.getMessage() for r in caplog.records if "ROLLOUT_ALLOWED_ORIGINS" in r.getMessage()
    ]
    assert len(messages) == 2
    assert "/drf/rollout-token" in messages[0]
