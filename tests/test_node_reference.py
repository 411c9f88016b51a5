"""Byte identity with Rollout's own ``generateToken`` run by Node's real ``jsonwebtoken``."""

from __future__ import annotations

import json
import random
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rollout_middleware import TokenIssuer

from .support import npm_ci, require_executable

pytestmark = pytest.mark.node
NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node() -> str:
    node = require_executable("node", "the byte-identity test runs Rollout's Node generateToken")
    if not (NODE_DIR / "node_modules" / "jsonwebtoken").is_dir():
        npm_ci(NODE_DIR, "the byte-identity test installs jsonwebtoken from package-lock.json")
    return node


def node_tokens(node: str, cases: list[dict[str, Any]]) -> list[str]:
    result = subprocess.run(
        [node, "generate_token.js"],
        cwd=NODE_DIR,
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
    )
    tokens: list[str] = json.loads(result.stdout)
    return tokens


def python_token(case: dict[str, Any]) -> str:
    issuer = TokenIssuer(case["clientId"], case["secret"], clock=lambda: case["nowMs"] / 1000)
    return issuer.mint(case["userId"])


def test_guides_example_is_byte_identical(node: str) -> None:
    case = {
        "clientId": "my-client-id",
        "secret": "my-client-secret-" + "0" * 47,
        "userId": "user123",
        "nowMs": 1_767_225_600_999,
    }
    [expected] = node_tokens(node, [case])
    assert python_token(case) == expected


def random_cases(seed: int, count: int) -> list[dict[str, Any]]:
    """Random ids, client ids, secrets and clocks; ids of ASCII characters up to ``~``.

    DEL (0x7f) and non-ASCII characters are where Python's JSON (``\\u`` escapes, as ``jwt.encode``
    writes them) and JavaScript's ``JSON.stringify`` (raw characters) differ, so byte identity with
    Node is promised for these ids only; for every id the token is what ``jwt.encode`` returns.
    """
    rng = random.Random(seed)
    ascii_chars = "".join(map(chr, range(0x7F)))
    printable = string.ascii_letters + string.digits + string.punctuation + " "

    def text(alphabet: str, low: int, high: int) -> str:
        while True:
            value = "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))
            if value.strip():
                return value

    return [
        {
            "clientId": text(printable, 1, 40),  # through the environment: no NUL
            "secret": text(string.ascii_letters + string.digits, 64, 100),
            "userId": text(ascii_chars, 1, 256),
            "nowMs": rng.randint(0, 4_102_444_800_000),
        }
        for _ in range(count)
    ]


def test_random_ascii_cases_are_byte_identical(node: str) -> None:
    cases = random_cases(seed=20261128, count=300)
    assert [python_token(case) for case in cases] == node_tokens(node, cases)
