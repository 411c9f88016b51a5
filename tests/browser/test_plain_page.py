"""The plain JavaScript demo page in headless Chromium: token, claims, API call, 401, users."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import IN_CI, verify_token

if not IN_CI:  # in CI a missing Playwright must fail, not skip
    pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' for Playwright")

from playwright.sync_api import Page, expect

from tests.browser.conftest import StandIn, log_in

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

ADA = ["Ada's Follow Up Boss", "Lovelace Realty on dotloop"]
GRACE = ["Hopper & Co. HubSpot", "grace@hopper.example"]


def test_shows_the_users_token_and_calls_the_api_with_it(
    page: Page, stand_in: StandIn, served_tokens: list[str], screenshot: Callable[[str], Path]
) -> None:
    log_in(page, "user-ada")
    expect(page.locator("#api-state")).to_have_text("200 OK")
    expect(page.locator("#claim-sub")).to_have_text("user-ada")
    expect(page.locator("ul.creds .label")).to_have_text(ADA)
    (token,) = served_tokens
    assert verify_token(token)["sub"] == "user-ada"
    assert page.locator("#token").get_attribute("data-token") == token
    expect(page.locator("#claim-iss")).to_have_text("test-client")
    # Both read at once: the countdown ticks every second, between two separate reads too.
    left, shown = page.locator("#countdown").evaluate("e => [e.dataset.seconds, e.textContent]")
    seconds = int(left)
    assert 0 < seconds <= 900
    assert shown == f"{seconds // 60:02d}:{seconds % 60:02d}"
    calls = stand_in.requests("/credentials")
    assert [(c["token"], c["subject"], c["status"]) for c in calls] == [(token, "user-ada", 200)]
    screenshot("plain-page")


def test_fetches_a_new_token_after_a_401(
    page: Page, stand_in: StandIn, served_tokens: list[str], screenshot: Callable[[str], Path]
) -> None:
    log_in(page, "user-ada")
    expect(page.locator("#api-state")).to_have_text("200 OK")
    with (
        page.expect_response(lambda r: r.url.endswith("/rollout-token")),
        page.expect_response(lambda r: "/credentials" in r.url and r.status == 200),
    ):
        page.click("#simulate-expiry")
    expect(page.locator("#api-state")).to_have_text("200 OK")
    expect(page.locator("#log")).to_contain_text("401")
    expect(page.locator("ul.creds .label")).to_have_text(ADA)
    assert len(served_tokens) == 2
    calls = stand_in.requests("/credentials")
    assert [(c["status"], c["reason"], c["subject"]) for c in calls] == [
        (200, None, "user-ada"),
        (401, "forced", None),
        (200, None, "user-ada"),
    ]
    assert calls[1]["token"] == served_tokens[0]
    assert calls[2]["token"] == served_tokens[1]
    screenshot("plain-page-after-401")


def test_logging_in_as_another_user_shows_their_sub(
    page: Page, stand_in: StandIn, served_tokens: list[str], screenshot: Callable[[str], Path]
) -> None:
    log_in(page, "user-ada")
    expect(page.locator("#claim-sub")).to_have_text("user-ada")
    page.click("#logout")
    page.wait_for_url("**/login")
    screenshot("login")
    page.click("button[data-user=user-grace]")
    expect(page.locator("#claim-sub")).to_have_text("user-grace")
    expect(page.locator("ul.creds .label")).to_have_text(GRACE)
    assert [verify_token(t)["sub"] for t in served_tokens] == ["user-ada", "user-grace"]
    assert [c["subject"] for c in stand_in.requests("/credentials")] == ["user-ada", "user-grace"]
