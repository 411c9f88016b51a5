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


#: Extras that only the project's own work needs: not for users, so not on the docs home.
DEV_EXTRAS = {"test", "compat", "lint", "docs", "release", "dev"}
#: Extras announced on the docs home before pyproject.toml has them.
COMING_EXTRAS = {"litestar", "quart"}
INDEX = (ROOT / "docs" / "index.md").read_text()


def extras() -> list[str]:
    """The names of pyproject.toml's optional dependencies (no tomllib: Python 3.10 runs this)."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text[text.index("\n[project.optional-dependencies]\n") + 1 :]
    section = section[: section.find("\n[", 1)]
    return re.findall(r"^([a-z0-9_-]+) = ", section, re.M)


def test_the_docs_home_lists_every_extra() -> None:
    names = set(extras())
    assert {"flask", "django", "httpx"} <= names
    listed = set(re.findall(r"`rollout-middleware\[([a-z0-9_-]+)\]`", INDEX))
    assert listed == (names - DEV_EXTRAS) | COMING_EXTRAS


def test_the_docs_home_draws_the_flow_and_the_site_renders_mermaid() -> None:
    assert re.search(r"^```mermaid\nsequenceDiagram\n(.+\n)+?```$", INDEX, re.M)
    flow = INDEX[INDEX.index("```mermaid") :]
    for step in ("/rollout-token", "client secret", "Bearer", "401"):
        assert step in flow[: flow.index("\n```\n")], step
    fence = "custom_fences:\n        - name: mermaid\n          class: mermaid\n"
    assert fence in MKDOCS
    assert "format: !!python/name:pymdownx.superfences.fence_code_format" in MKDOCS


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_images_exist_and_are_pngs(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    for target in re.findall(r"!\[[^\]]+\]\(([^)\s]+)\)", text):
        image = ROOT / "docs" / target
        assert image.is_file(), f"{page}: {target} is missing"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{page}: {target} is not a PNG"


def test_the_demo_picture_is_on_the_home_and_demo_pages() -> None:
    for page in ("index.md", "demo.md"):
        assert "](images/demo.png)" in (ROOT / "docs" / page).read_text(), page


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_pages_send_readers_to_the_configuration_page_not_the_readme(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    assert not re.search(r"README'?s? (configuration|response)|\(README\b", text)


#: The pages a newcomer reads first: short sentences, code that fits the page.
FIRST_PAGES = ["README.md"] + [
    f"docs/{name}.md"
    for name in (
        "index", "asgi", "fastapi", "django", "drf", "flask", "litestar", "quart",
        "aiohttp", "tornado", "wsgi",
    )
]  # fmt: skip


def _prose(text: str) -> str:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    skip = ("|", "#", "<!--", "--8<--", "![")
    return "\n".join(
        line if not line.lstrip().startswith(skip) else "" for line in text.splitlines()
    )


@pytest.mark.parametrize("page", FIRST_PAGES)
def test_no_sentence_is_over_40_words(page: str) -> None:
    pattern = r"(?<=[.!?:;])\s+(?=[A-Z`\[*(])|\n\s*\n|\n\s*(?:[-*]|\d+\.) "
    sentences = re.split(pattern, _prose((ROOT / page).read_text()))
    long = [s[:80] for s in sentences if len([w for w in s.split() if re.search(r"\w", w)]) > 40]
    assert long == []


@pytest.mark.parametrize("page", FIRST_PAGES)
def test_python_and_js_code_is_wrapped_at_80_columns(page: str) -> None:
    text = (ROOT / page).read_text()
    blocks = re.findall(r"^[ \t]*```(?:python|js|jsx)\n(.*?)^[ \t]*```", text, re.M | re.S)
    assert [line for block in blocks for line in block.splitlines() if len(line) > 80] == []


def test_the_readme_is_a_landing_page() -> None:
    words = len(re.findall(r"\w+", _prose(README)))
    assert words <= 1000
    first_screen = "\n".join(README.splitlines()[:40])
    assert "pip install rollout-middleware" in first_screen
    assert "ROLLOUT_CLIENT_SECRET" in first_screen
    assert "```python" in first_screen
