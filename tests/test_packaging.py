"""The package as it is installed: one version, its license, and which copy the tests import."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path

import rollout_middleware

from .support import INSTALLED, PYTHON, ROOT, subprocess_env, suite_only_dir

DISTRIBUTION = "rollout-middleware"
PACKAGE_FILE = Path(rollout_middleware.__file__).resolve()


def test_installed_metadata_version_is_the_package_version() -> None:
    assert importlib.metadata.version(DISTRIBUTION) == rollout_middleware.__version__


def test_the_changelog_has_an_entry_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    version = re.escape(rollout_middleware.__version__)
    assert re.search(rf"^## \[{version}\] - \d{{4}}-\d\d-\d\d$", changelog, re.M), changelog[:400]
    assert re.search(rf"^\[{version}\]: https://", changelog, re.M)


def test_the_metadata_declares_the_mit_license_and_ships_its_text() -> None:
    distribution = importlib.metadata.distribution(DISTRIBUTION)
    assert distribution.metadata["License-Expression"] == "MIT"
    assert distribution.metadata.get_all("License-File") == ["LICENSE"]
    shipped = distribution.read_text("licenses/LICENSE")
    assert shipped is not None
    assert shipped == (ROOT / "LICENSE").read_text()
    assert shipped.startswith("MIT License\n\nCopyright (c) 2026 rollout-middleware developers\n")


def test_the_package_under_test_is_the_one_asked_for() -> None:
    """With ROLLOUT_TEST_INSTALLED=1 (CI's runs against the built wheel) the tests must import the
    installed package from site-packages; otherwise this checkout's (the README's editable install),
    so that a stale installed copy is never tested by mistake."""
    if INSTALLED:
        assert "site-packages" in PACKAGE_FILE.parts, PACKAGE_FILE
        assert not PACKAGE_FILE.is_relative_to(ROOT), f"{PACKAGE_FILE} is the source beside tests/"
    else:
        assert PACKAGE_FILE == ROOT / "rollout_middleware" / "__init__.py", (
            f"rollout_middleware is imported from {PACKAGE_FILE}, not from this checkout: "
            "pip install -e . here, or set ROLLOUT_TEST_INSTALLED=1 to test an installed package"
        )


def test_processes_the_tests_start_import_the_same_package() -> None:
    """Servers and ``python -c`` runs see ``tests`` but not the source beside it."""
    done = subprocess.run(
        [
            PYTHON,
            "-c",
            "import rollout_middleware, tests.support; print(rollout_middleware.__file__)",
        ],
        cwd=suite_only_dir(),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(done.stdout.strip()).resolve() == PACKAGE_FILE
