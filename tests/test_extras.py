"""Each optional integration imported without its extra says which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import support
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


def test_only_a_framework_the_run_names_may_be_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oldest pins cannot install Quart, so that run names it and its tests skip; in any other
    run a missing framework fails the tests that import it."""
    wrapped = ImportError("rollout_middleware.contrib.quart needs Quart")
    wrapped.__cause__ = ModuleNotFoundError("No module named 'quart'", name="quart")
    monkeypatch.setattr(support, "WITHOUT", frozenset())
    assert not support.absent(wrapped)
    monkeypatch.setattr(support, "WITHOUT", frozenset({"quart"}))
    assert support.absent(wrapped)
    assert not support.absent(ModuleNotFoundError("No module named 'litestar'", name="litestar"))
    with pytest.raises(pytest.skip.Exception, match="no quart"):
        support.skip_without("import os\nfrom quart import Quart\n")
    support.skip_without("from quart_auth import QuartAuth\n")  # another module: runs
