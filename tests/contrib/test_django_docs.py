"""docs/django.md's and docs/drf.md's Python blocks: each compiles; the test-client example runs,
as it is written, in the test project and, through ``manage.py test``, on a user model keyed by
email with no Rollout credentials; the settings blocks are what the tests run."""

from __future__ import annotations

import logging.config
import os
import re
import subprocess
import unittest
from pathlib import Path

import pytest

from tests.django_project.testing import ensure_django
from tests.support import PYTHON, ROOT, subprocess_env

OURS = "rollout_middleware.contrib.django.RolloutTokenMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_test_client_example_passes() -> None:
    ensure_django()
    from django.conf import settings
    from django.test import override_settings

    doc = (ROOT / "docs" / "django.md").read_text()
    (snippet,) = [b for b in _python_blocks(doc) if "class RolloutTokenTests" in b]
    namespace: dict[str, object] = {"__name__": "docs_django"}
    exec(compile(snippet, "docs/django.md", "exec"), namespace)  # noqa: S102 - our own docs
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(AUTH) + 1, OURS)
    with override_settings(MIDDLEWARE=middleware):
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(namespace["RolloutTokenTests"])  # type: ignore[arg-type]
        result = unittest.TestResult()
        suite.run(result)
    assert result.testsRun == 2
    assert not result.failures, result.failures
    assert not result.errors, result.errors


def test_the_drf_urls_snippet_is_the_test_project_wiring() -> None:
    """docs/drf.md's path, beside the middleware, is tests/django_project/urls_api.py's."""
    doc = (ROOT / "docs" / "drf.md").read_text()
    urls = (ROOT / "tests" / "django_project" / "urls_api.py").read_text()
    assert 'path("api/rollout-token", RolloutTokenAPIView.as_view())' in doc
    assert 'path("api/rollout-token", RolloutTokenAPIView.as_view())' in urls


@pytest.mark.parametrize("page", ["django.md", "drf.md"])
def test_every_python_block_compiles(page: str) -> None:
    blocks = _python_blocks((ROOT / "docs" / page).read_text())
    assert blocks
    for block in blocks:
        compile(block, f"docs/{page}", "exec")


def _settings_blocks() -> list[dict[str, object]]:
    """The namespaces of docs/django.md's ``# settings.py`` blocks, run."""
    found = []
    for block in _python_blocks((ROOT / "docs" / "django.md").read_text()):
        if block.startswith("# settings.py"):
            namespace: dict[str, object] = {}
            exec(compile(block, "docs/django.md", "exec"), namespace)  # noqa: S102 - our docs
            found.append(namespace)
    return found


def test_the_logging_block_configures_the_logger() -> None:
    (config,) = [ns["LOGGING"] for ns in _settings_blocks() if "LOGGING" in ns]
    before = logging.getLogger("rollout_middleware").level
    try:
        logging.config.dictConfig(config)  # type: ignore[arg-type]
        assert logging.getLogger("rollout_middleware").level == logging.INFO
    finally:
        logging.getLogger("rollout_middleware").handlers.clear()
        logging.getLogger("rollout_middleware").setLevel(before)


def test_the_cors_blocks_are_what_the_cors_tests_run() -> None:
    """tests/contrib/test_django_cors.py runs both setups with these values."""
    cors = [ns for ns in _settings_blocks() if "CORS_ALLOWED_ORIGINS" in ns]
    assert len(cors) == 2
    for namespace in cors:
        assert namespace["CORS_ALLOWED_ORIGINS"] == namespace["ROLLOUT_ALLOWED_ORIGINS"]
    assert cors[0]["CORS_ALLOW_CREDENTIALS"] is True
    assert not re.match(str(cors[1]["CORS_URLS_REGEX"]), "/rollout-token")
    assert re.match(str(cors[1]["CORS_URLS_REGEX"]), "/api/rollout-token")


@pytest.mark.slow
def test_the_test_client_example_on_a_user_keyed_by_email_without_credentials(
    tmp_path: Path,
) -> None:
    """``manage.py test`` on the example, as an app like Django-Styleguide-Example runs it: a user
    model keyed by email, the middleware in MIDDLEWARE, no Rollout credentials anywhere."""
    doc = (ROOT / "docs" / "django.md").read_text()
    (snippet,) = [b for b in _python_blocks(doc) if "class RolloutTokenTests" in b]
    (tmp_path / "test_rollout_docs.py").write_text(snippet)
    env = subprocess_env(
        {
            "DJANGO_SETTINGS_MODULE": "tests.django_project.settings_email",
            "ROLLOUT_DJANGO_TEST_DB": str(tmp_path / "db.sqlite3"),
        }
    )
    env["PYTHONPATH"] = os.pathsep.join((str(tmp_path), env["PYTHONPATH"]))
    for name in ("ROLLOUT_CLIENT_ID", "ROLLOUT_CLIENT_SECRET"):
        env.pop(name, None)
    done = subprocess.run(
        [PYTHON, "-W", "error", "-m", "django", "test", "test_rollout_docs", "-v", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 2 tests" in done.stderr
    assert "Applying emailusers.0001_initial" in done.stdout  # the user model keyed by email
