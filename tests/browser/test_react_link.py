"""Rollout's real ``@rollout/link-react`` in headless Chromium, fed by our token endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import IN_CI, verify_token

if not IN_CI:  # in CI a missing Playwright must fail, not skip
    pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' for Playwright")

from playwright.sync_api import Page, expect

from tests.browser.conftest import StandIn, log_in

pytestmark = [pytest.mark.browser, pytest.mark.node, pytest.mark.server, pytest.mark.slow]

ROLLOUT_CLIENT = "@rollout/link-react@0.14.0"


@pytest.fixture(autouse=True)
def _built(react_bundle: Path) -> None:
    """Every test here needs the bundle."""


def open_react_page(page: Page, user_id: str) -> None:
    log_in(page, user_id, "/react")
    expect(page.get_by_test_id("credentials-state")).to_have_text("loaded")


def test_credentials_render_with_our_token(
    page: Page, stand_in: StandIn, served_tokens: list[str], screenshot: Callable[[str], Path]
) -> None:
    open_react_page(page, "user-grace")
    credentials = page.get_by_test_id("credential")
    expect(credentials).to_have_count(2)
    expect(credentials.locator(".label")).to_have_text(
        ["Hopper & Co. HubSpot", "grace@hopper.example"]
    )
    # CredentialsManager renders the stand-in's connector catalogue.
    manager = page.locator(".universal-CredentialsManager-root")
    expect(manager).to_contain_text("Select Integration")
    expect(manager.locator(".universal-ConnectorListItem-name")).to_have_count(6)
    expect(page.get_by_test_id("claim-sub")).to_have_text("user-grace")
    (token,) = served_tokens
    assert verify_token(token)["sub"] == "user-grace"
    calls = stand_in.requests("/credentials") + stand_in.requests("/connectors")
    assert calls
    for call in calls:
        assert (call["token"], call["subject"], call["status"]) == (token, "user-grace", 200)
        assert call["rollout_user_agent"] == ROLLOUT_CLIENT
    page.wait_for_load_state("networkidle")
    screenshot("react-link")


def test_after_a_401_the_client_gets_a_new_token_and_keeps_the_credentials(
    page: Page, stand_in: StandIn, served_tokens: list[str], screenshot: Callable[[str], Path]
) -> None:
    open_react_page(page, "user-ada")
    expect(page.get_by_test_id("credential")).to_have_count(2)
    page.get_by_test_id("simulate-expiry").click()
    expect(page.get_by_test_id("refresh-status")).to_contain_text("Refreshed at")
    expect(page.get_by_test_id("credentials-state")).to_have_text("loaded")
    expect(page.get_by_test_id("credential")).to_have_count(2)
    expect(page.get_by_test_id("token-count")).to_have_text("2 served")
    assert len(served_tokens) == 2
    first, second = served_tokens
    assert first != second
    assert verify_token(first)["sub"] == verify_token(second)["sub"] == "user-ada"
    calls = [(c["token"], c["status"], c["reason"]) for c in stand_in.requests("/credentials")]
    assert calls[-3:] == [(first, 200, None), (first, 401, "forced"), (second, 200, None)]
    screenshot("react-link-after-401")


def test_another_user_connects_a_system_through_credentials_manager(
    page: Page, stand_in: StandIn, served_tokens: list[str], screenshot: Callable[[str], Path]
) -> None:
    open_react_page(page, "user-alan")
    expect(page.get_by_test_id("claim-sub")).to_have_text("user-alan")
    expect(page.get_by_test_id("credential")).to_have_count(0)
    page.locator(".universal-ConnectorListItem-root", has_text="Lofty").click()
    page.get_by_label("API key").fill("lofty-key-7421")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("credential").locator(".label")).to_have_text(
        ["Lofty key ending 7421"]
    )
    (created,) = [c for c in stand_in.requests() if c["method"] == "POST"]
    assert (created["path"], created["subject"], created["status"]) == (
        "/credentials",
        "user-alan",
        200,
    )
    assert created["token"] == served_tokens[-1]
    screenshot("react-link-connected")
