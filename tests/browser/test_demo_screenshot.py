"""The docs' picture of the demo, ``docs/images/demo.png``: the real page in headless Chromium.

Rewritten on each run (commit it when the page changes): a signed-in user's page, once it shows
the token the server minted and the API call it made with it.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from tests.support import IN_CI, ROOT, verify_token

if not IN_CI:  # in CI a missing Playwright must fail, not skip
    pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' for Playwright")

from playwright.sync_api import Page, expect

from tests.browser.conftest import StandIn, log_in

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

PICTURE = ROOT / "docs" / "images" / "demo.png"
WIDTH, HEIGHT = 1200, 900
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height of a PNG, after checking its signature and its header's CRC."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    header = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert zlib.crc32(kind + header) == crc, "a damaged PNG header"
    width, height = struct.unpack(">II", header[:8])
    assert data.endswith(b"IEND\xaeB`\x82"), "a truncated PNG"
    return width, height


def test_the_docs_picture_is_the_signed_in_page_with_its_token(
    page: Page, stand_in: StandIn, served_tokens: list[str]
) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    log_in(page, "user-ada")
    expect(page.locator("#api-state")).to_have_text("200 OK")
    expect(page.locator("#claim-sub")).to_have_text("user-ada")
    (token,) = served_tokens
    assert verify_token(token)["sub"] == "user-ada"
    assert page.locator("#token").get_attribute("data-token") == token
    expect(page.locator("#token")).to_contain_text(token[:20])
    assert [c["token"] for c in stand_in.requests("/credentials")] == [token]

    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    PICTURE.unlink(missing_ok=True)
    page.screenshot(path=str(PICTURE), full_page=False, animations="disabled")

    data = PICTURE.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    assert len(data) > 20_000, "a blank picture"  # the page's text and colours


def test_png_size_refuses_what_is_not_a_png() -> None:
    with pytest.raises(AssertionError, match="not a PNG"):
        png_size(b"GIF89a" + b"\0" * 40)
