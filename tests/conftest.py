from __future__ import annotations

import pytest

from .shells import Shell


@pytest.fixture(params=["asgi", "wsgi"])
def shell(request: pytest.FixtureRequest) -> Shell:
    """Each behaviour test runs once per shell."""
    return Shell(request.param)
