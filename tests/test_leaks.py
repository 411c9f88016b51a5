"""The client secret in the environment never shows in the package's documentation or signatures.

A default such as ``environ=os.environ`` renders the whole process environment into ``help()``,
``pydoc`` and ``inspect.signature``, and into any API reference built on a machine with the secret
set. Every public module and callable is rendered here with a secret in the environment.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import pydoc
from collections.abc import Iterator
from types import ModuleType

import pytest

import rollout_middleware
from tests.django_project.testing import ensure_django
from tests.support import absent

SECRET = "leak-canary-Zq7vX2mKp9Lw4RtY8sN3bH6jD1fG5cA0eU"
CLIENT_ID = "leak-canary-client-id"


def public_modules() -> Iterator[ModuleType]:
    ensure_django()  # pydoc reads the module's ``settings``: a configured project, as in use
    yield rollout_middleware
    for info in pkgutil.walk_packages(rollout_middleware.__path__, "rollout_middleware."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        try:
            yield importlib.import_module(info.name)
        except ImportError as exc:
            if not absent(exc):  # a framework this run lacks (the oldest pins)
                raise


def public_callables(module: ModuleType) -> Iterator[tuple[str, object]]:
    names = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
    for name in names:
        obj = getattr(module, name)
        if callable(obj):
            yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                member = getattr(obj, attr, member)
                if callable(member):
                    yield f"{module.__name__}.{name}.{attr}", member


def leaked(text: str) -> list[str]:
    """Every 8-character piece of the secret that ``text`` contains."""
    return [SECRET[i : i + 8] for i in range(len(SECRET) - 7) if SECRET[i : i + 8] in text]


@pytest.fixture
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)


def test_the_canary_is_seen_where_it_is() -> None:
    assert leaked(f"x{SECRET[10:20]}x")


@pytest.mark.usefixtures("secret_in_environment")
@pytest.mark.parametrize("module", list(public_modules()), ids=lambda m: m.__name__)
def test_pydoc_of_every_public_module_shows_no_secret(module: ModuleType) -> None:
    text = pydoc.render_doc(module, renderer=pydoc.plaintext)
    assert leaked(text) == []
    assert leaked(pydoc.HTMLDoc().docmodule(module)) == []


@pytest.mark.usefixtures("secret_in_environment")
def test_no_public_signature_shows_the_secret() -> None:
    seen = 0
    for module in public_modules():
        for qualname, obj in public_callables(module):
            try:
                signature = inspect.signature(obj)  # type: ignore[arg-type]
            except (TypeError, ValueError):  # builtins without a signature
                continue
            seen += 1
            assert leaked(str(signature)) == [], qualname
    assert seen > 50


def _reachable_text(obj: object, seen: set[int] | None = None, depth: int = 0) -> Iterator[str]:
    """The reprs of ``obj`` and of everything its ``vars()`` reach (what a debugger shows)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 6:
        return
    seen.add(id(obj))
    yield repr(obj)
    if isinstance(obj, (str, bytes, int, float, type(None))):
        return
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _reachable_text(value, seen, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for value in obj:
            yield from _reachable_text(value, seen, depth + 1)
    elif hasattr(obj, "__dict__"):
        yield from _reachable_text(vars(obj), seen, depth + 1)


def test_no_entry_point_keeps_the_plain_secret_where_vars_or_repr_show_it() -> None:
    from flask import Flask
    from pydantic import SecretStr

    from rollout_middleware import RolloutTokenMiddleware, TokenDecision
    from rollout_middleware.contrib.flask import RolloutToken

    for secret in (SECRET, SecretStr(SECRET)):
        built: list[object] = [
            RolloutToken(Flask(__name__), resolve_user=lambda: None, client_secret=secret),
            RolloutToken(resolve_user=lambda: None, client_id=CLIENT_ID, client_secret=secret),
            RolloutTokenMiddleware(
                lambda *a: None,  # type: ignore[arg-type,return-value]
                resolve_user=lambda scope: None,
                client_id=CLIENT_ID,
                client_secret=secret,
            ),
            TokenDecision.build(client_id=CLIENT_ID, client_secret=secret),
        ]
        for obj in built:
            assert not [text for text in _reachable_text(obj) if SECRET in text], obj
