"""docs/django.md's test-client example runs, as it is written, in the test project."""

from __future__ import annotations

import re
import unittest

from tests.django_project.testing import ensure_django
from tests.support import ROOT

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
    doc = (ROOT / "docs" / "drf.md").read_text()
    urls = (ROOT / "tests" / "django_project" / "urls.py").read_text()
    assert 'path("rollout-token", RolloutTokenAPIView.as_view())' in doc
    assert 'RolloutTokenAPIView.as_view(), name="drf-rollout-token"' in urls
