"""docs/fastapi.md: its Python blocks run, in order, over the tutorial app's names."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..support import ROOT
from .test_fastapi import load_example

DOC = ROOT / "docs" / "fastapi.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.M | re.S)


def test_the_blocks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example(monkeypatch)
    monkeypatch.delenv("ROLLOUT_CLIENT_ID")
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET")
    from fastapi import Request
    from starlette.middleware.sessions import SessionMiddleware

    from rollout_middleware import RolloutTokenMiddleware
    from rollout_middleware.resolvers import session_user

    namespace: dict[str, Any] = {
        "__name__": "fastapi_md",
        "User": example.User,
        "get_current_active_user": example.get_current_active_user,
        "Request": Request,
        "SessionMiddleware": SessionMiddleware,
        "RolloutTokenMiddleware": RolloutTokenMiddleware,
        "session_user": session_user,
    }
    for block in BLOCKS:
        code = block.replace('secret_key="..."', 'secret_key="docs-key"')
        if "dependency_overrides" in code or "add_middleware" in code:  # on a fresh app
            exec(compile(BLOCKS[0], str(DOC), "exec", dont_inherit=True), namespace)  # noqa: S102
        exec(compile(code, str(DOC), "exec", dont_inherit=True), namespace)  # noqa: S102
    assert len(BLOCKS) >= 5
