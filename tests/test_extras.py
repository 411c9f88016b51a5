"""Each optional integration imported without its extra says which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import suite_only_dir

HIDE = "import sys; sys.modules[{missing!r}] = None; import rollout_middleware.{module}"


@pytest.mark.parametrize(
    ("module", "missing", "extra"),
    [
        ("contrib.django", "django", "django"),
        ("contrib.flask", "flask", "flask"),
        ("contrib.litestar", "litestar", "litestar"),
        ("contrib.quart", "quart", "quart"),
        ("contrib.aiohttp", "aiohttp", "aiohttp"),
        ("contrib.tornado", "tornado.web", "tornado"),
        ("client", "httpx", "httpx"),
    ],
)
def test_a_missing_extra_is_named(module: str, missing: str, extra: str) -> None:
    code = HIDE.format(missing=missing, module=module)
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=suite_only_dir(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: rollout_middleware."), run.stderr
    assert "pip install " in last
    assert f"rollout-middleware[{extra}]" in last
