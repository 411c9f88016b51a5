"""docs/flask.md: every Python block runs, in order, as printed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..support import CLIENT_ID, ROOT, SECRET, verify_token

DOC = ROOT / "docs" / "flask.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.M | re.S)


def test_every_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    namespace: dict[str, Any] = {"__name__": "flask_md"}
    for block in BLOCKS:
        block = block.replace("from myapp import create_app  # your factory, as above\n", "")
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the docs' own code
    assert len(BLOCKS) >= 5
    namespace["test_app_builds_without_credentials"]()  # the testing block's test
    app = namespace["app"]
    app.config.update(SECRET_KEY="k")
    client = app.test_client()
    assert client.get("/api/rollout-token").status_code == 401
    headers = {"Authorization": "Bearer secret-token"}
    assert client.get("/api/rollout-token", headers=headers).status_code == 503  # no secret yet
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    token = client.get("/api/rollout-token", headers=headers).get_json()["token"]
    assert verify_token(token)["sub"] == "alice"
