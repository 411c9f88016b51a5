"""Offline builds: with npm present but no registry reachable, the tests that need npm packages skip
with the reason instead of erroring (in CI, ``tests/conftest.py`` turns any skip into a failure)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .support import TESTS, free_port, npm_ci, require_executable

pytestmark = pytest.mark.node


def test_npm_ci_without_a_registry_skips_with_the_reason(tmp_path: Path) -> None:
    require_executable("npm", "this test runs npm ci against a registry that is not there")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(TESTS / "node" / name, project / name)
    closed = free_port()  # bound and released: nothing listens there
    env = {
        "npm_config_registry": f"http://127.0.0.1:{closed}/",
        "npm_config_cache": str(tmp_path / "empty-cache"),  # nothing to install from
        "npm_config_fetch_retries": "0",
        "npm_config_fetch_timeout": "10000",
    }
    with pytest.raises(pytest.skip.Exception, match=r"npm ci failed in .*project") as skipped:
        npm_ci(project, "the test needs jsonwebtoken", env=env, timeout=300)
    reason = str(skipped.value)
    assert "is an npm registry reachable?" in reason
    assert "the test needs jsonwebtoken" in reason
    assert "npm said: npm error code ECONNREFUSED" in reason
    assert not (project / "node_modules" / "jsonwebtoken").exists()
