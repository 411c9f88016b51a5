"""A griffe extension for the API reference: the package's docstrings use Sphinx roles
(``:class:`~rollout_middleware.tokens.TokenIssuer```, ``:meth:`build```); mkdocstrings reads
Markdown. Each role becomes a cross-reference when its target is an object the reference renders
(so a wrong target shows up as plain code, and a reference to a missing page fails
``mkdocs build --strict``), or inline code when it names something outside the package.

Loaded by mkdocs.yml (``extensions: [docs/_ext/sphinx_roles.py]``); nothing else imports it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(?:(?P<title>[^`<]+?)\s*<(?P<target>[^`>]+)>|(?P<plain>[^`]+))`"
)


def _objects(obj: griffe.Object) -> list[griffe.Object]:
    """``obj`` and every object defined under it (aliases, the re-exports, left out)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found += _objects(member)  # type: ignore[arg-type]
    return found


def _rendered(obj: griffe.Object | griffe.Alias) -> bool:
    """Whether the reference page shows ``obj``: public and documented, as mkdocs.yml's filters."""
    target = obj.final_target if obj.is_alias else obj  # type: ignore[union-attr]
    chain = [target]
    while chain[-1].parent is not None and not chain[-1].is_module:
        chain.append(chain[-1].parent)
    public = all(not o.name.startswith("_") for o in chain if not o.is_module)
    return public and (target.is_module or target.docstring is not None)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the package, once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = ROLE.sub(
                    functools.partial(self._rewrite, owner=obj, pkg=pkg), obj.docstring.value
                )

    def _rewrite(self, match: re.Match[str], *, owner: griffe.Object, pkg: griffe.Module) -> str:
        raw = match["target"] or match["plain"]
        short = raw.startswith("~")
        target = raw.lstrip("~").rstrip("()")
        text = match["title"] or (target.rsplit(".", 1)[-1] if short else target)
        found = self._resolve(target, owner, pkg)
        if found is None or not _rendered(found):
            return f"`{text}`"
        path = found.final_target.path if found.is_alias else found.path  # type: ignore[union-attr]
        return f"[`{text}`][{path}]"

    @staticmethod
    def _resolve(
        target: str, owner: griffe.Object, pkg: griffe.Module
    ) -> griffe.Object | griffe.Alias | None:
        """``target`` as Python would see it from ``owner``: its own members, then its parents'
        (up to the package), then as a path from the package's root (``.asgi``, ``pkg.mod.Name``)."""
        scopes: list[griffe.Object] = []
        scope: griffe.Object | None = owner
        while scope is not None:
            scopes.append(scope)
            scope = scope.parent
        names = [target.lstrip(".")] if target.startswith(".") else [target]
        if target.startswith(pkg.name + "."):
            names = [target.removeprefix(pkg.name + ".")]
            scopes = [pkg]
        for scope in scopes:
            for name in names:
                try:
                    return scope[name]  # type: ignore[no-any-return]
                except (KeyError, ValueError, griffe.AliasResolutionError):
                    continue
        return None
