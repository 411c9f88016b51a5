"""The CLI with an older PyJWT: minting works, ``inspect`` and ``check`` say what they need."""

from __future__ import annotations

import io

import jwt
import pytest

from rollout_middleware.cli import main
from tests.support import CLIENT_ID, SECRET

ENV = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}


def test_inspect_and_check_say_when_pyjwt_is_too_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jwt, "__version__", "2.8.0")
    for command in (["inspect", "x.y.z"], ["check"]):
        out, err = io.StringIO(), io.StringIO()
        assert main(command, environ=ENV, stdout=out, stderr=err) == 2
        said = f"{command[0]} needs PyJWT 2.10 or newer, and this environment has 2.8.0"
        assert said in err.getvalue()
    out = io.StringIO()
    assert main(["mint", "ada"], environ=ENV, stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue().count(".") == 2
