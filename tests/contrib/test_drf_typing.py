"""A project's typed subclasses of ``RolloutTokenAPIView`` pass the project's mypy (issue 22,
item 11): ``permission_classes`` is annotated as djangorestframework-stubs annotate it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import PYTHON, TESTS, subprocess_env

pytestmark = pytest.mark.slow


def test_typed_subclasses_pass_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy comes with the lint extra")
    pytest.importorskip("rest_framework-stubs", reason="the stubs come with the lint extra")
    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "mypy",
            "--strict",
            "--python-version",
            "3.10",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--config-file",
            "",
            str(TESTS / "contrib" / "typed_drf_views.py"),
        ],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
