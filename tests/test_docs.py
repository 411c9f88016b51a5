"""The README works on the package index, and the docs site's sources hold together.

The site itself is built by CI with ``mkdocs build --strict`` (``.ci/run``); these checks need no
MkDocs, so they also run against an installed wheel, from the sdist.
"""

from __future__ import annotations

import re

import pytest

from .support import ROOT

DOCS_SITE = "https://rollout-middleware.readthedocs.io/en/latest/"
README = (ROOT / "README.md").read_text()
MKDOCS = (ROOT / "mkdocs.yml").read_text()
LINK = re.compile(r"\]\(([^)\s]+)\)")


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's nav, in order."""
    nav = MKDOCS[MKDOCS.index("\nnav:\n") :]
    return re.findall(r"^\s+- [^:]+: (\S+\.md)$", nav, re.M)


def test_readme_links_are_absolute_or_anchors() -> None:
    """Relative links are dead on the package index's page."""
    relative = [t for t in LINK.findall(README) if not t.startswith(("https://", "http://", "#"))]
    assert relative == []


def test_readme_links_to_the_docs_site_name_its_pages() -> None:
    pages = set(nav_pages())
    linked = [t for t in LINK.findall(README) if t.startswith(DOCS_SITE)]
    assert len(linked) >= 10
    for target in linked:
        match = re.fullmatch(re.escape(DOCS_SITE) + r"(?:([a-z0-9_-]+)/)?", target)
        assert match, f"{target} is not a page URL of the docs site"
        page = (match[1] or "index") + ".md"
        assert page in pages, f"{target}: no {page} in mkdocs.yml's nav"
        assert (ROOT / "docs" / page).is_file()


def test_every_docs_page_is_in_the_nav_once() -> None:
    pages = nav_pages()
    assert len(pages) == len(set(pages))
    assert sorted(pages) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert pages[0] == "index.md"


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_snippets_name_files_and_sections_that_exist(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    for path, section in re.findall(r'^--8<-- "([^":]+)(?::([a-z_-]+))?"$', text, re.M):
        source = ROOT / path
        assert source.is_file(), f"{page} includes {path}, which is missing"
        if section:
            content = source.read_text()
            assert f"<!-- --8<-- [start:{section}] -->\n" in content, f"{path}: no {section}"
            assert f"<!-- --8<-- [end:{section}] -->\n" in content, f"{path}: no end of {section}"
