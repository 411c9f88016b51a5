"""One suite for every entry point: the same request and user give the same answer everywhere.

Each entry point (the ASGI and WSGI shells, each framework adapter) registers an :class:`Adapter`
in a module of this package: a name, and a factory that builds an app serving the token at
``/rollout-token`` and returns an httpx-style client for it. The user is the ``x-user`` request
header, read by the framework's own means (a FastAPI dependency, an aiohttp resolver, Tornado's
``get_current_user``, ...): ``x-user: none`` means nobody is logged in, ``x-user: raise`` makes the
lookup raise, ``x-user: deny`` makes the framework refuse the user its own way (an ``HTTPException``
401, where the framework has one; elsewhere it is nobody), ``x-user: bad`` gives a value that is
not a user id (a ``float``), ``x-user: 7`` gives the ``int`` 7; any other value is the user id as a
``str``.

``tests/test_equivalence.py`` sends every case to every adapter and to the ASGI middleware, and
compares status, headers and body.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ..support import absent

#: Options are the answer options (``issuer``, ``methods``, ``allowed_origins``, ``on_issue``,
#: ``max_body_size``); the factory returns a context manager that yields a client with
#: ``request(method, url, headers=..., content=...)`` returning an httpx ``Response``.
Factory = Callable[..., AbstractContextManager[Any]]


@dataclass(frozen=True)
class Adapter:
    name: str
    factory: Factory
    #: Headers the framework adds on its own and the comparison ignores (lower-case).
    extra_headers: frozenset[str] = frozenset({"date", "server"})


class UserLookupError(RuntimeError):
    """What the user lookup raises for ``x-user: raise``."""


def user_from_header(value: str | None, deny: Callable[[], Any] | None = None) -> Any:
    """The user the ``x-user`` header stands for (see the module docstring); ``deny`` raises the
    framework's own refusal."""
    if value is None or value == "none":
        return None
    if value == "deny":
        return None if deny is None else deny()
    if value == "raise":
        raise UserLookupError("the user lookup failed")
    if value == "bad":
        return 1.5
    if value.isdigit():
        return int(value)
    if value.startswith("uuid:"):
        return uuid.UUID(value[5:])
    return value


ADAPTERS: dict[str, Adapter] = {}


def register(adapter: Adapter) -> Adapter:
    ADAPTERS[adapter.name] = adapter
    return adapter


def load_all() -> dict[str, Adapter]:
    """Import every module of this package, so each registers its adapters."""
    for module in pkgutil.iter_modules(__path__):
        try:
            importlib.import_module(f"{__name__}.{module.name}")
        except ImportError as exc:
            if not absent(exc):  # a framework this run lacks (the oldest pins): no adapters
                raise
    return ADAPTERS


def iter_names() -> Iterator[str]:
    return iter(sorted(load_all()))
