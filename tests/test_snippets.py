"""Every Python block of README.md and docs/*.md runs as printed.

Each block runs as a script in its own process, with test credentials in the environment and a
short timeout; a block that defines pytest tests runs under pytest. One that starts a server and is
still serving when the time is up counts as running. A block right after a line
``<!-- fragment -->`` is a fragment on purpose, and is not run. A block indented inside a list item
runs with the fence's indentation taken off. Port 8000, the docs' port, becomes a free one.

"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import CLIENT_ID, ROOT, SECRET, free_port, skip_without, subprocess_env

#: A fenced Python block, its fence's indentation, and a ``<!-- fragment -->`` line just before it.
BLOCK = re.compile(
    r"^(?P<fragment>[ \t]*<!-- fragment -->\n)?"
    r"(?P<indent>[ \t]*)```python[^\n]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
SERVING = 8.0  # seconds: a block still running then is a server that started

#: The environment the pages tell readers to set: the credentials, and the secrets that
#: docs/aiohttp.md and docs/tornado.md say to make with ``secrets.token_hex(32)``.
PAGE_ENV = {
    "ROLLOUT_CLIENT_ID": CLIENT_ID,
    "ROLLOUT_CLIENT_SECRET": SECRET,
    "SESSION_KEY": secrets.token_hex(32),
    "COOKIE_SECRET": secrets.token_hex(32),
}


def extract(text: str) -> list[tuple[int, str]]:
    """The runnable blocks of a page: (index among all its Python blocks, dedented code)."""
    found = []
    for index, match in enumerate(BLOCK.finditer(text)):
        if match["fragment"] is None:
            indent = match["indent"]
            lines = match["code"].splitlines(keepends=True)
            found.append((index, "".join(line.removeprefix(indent) for line in lines)))
    return found


def blocks() -> list[Any]:
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for index, code in extract(page.read_text()):
            where = f"{page.relative_to(ROOT)}#{index}"
            found.append(pytest.param(where, code, id=where))
    return found


#: What a Django block runs in: a configured project (the test project's settings), as in a
#: project's ``urls.py`` or ``views.py``.
DJANGO_PRELUDE = "import django\n\ndjango.setup()\n"


def run_block(where: str, code: str, tmp_path: Path) -> None:
    script = tmp_path / "snippet_test.py"
    in_django = re.search(r"django|rest_framework|contrib\.drf", code) and not re.search(
        r"django\.setup\(\)|settings\.configure", code
    )
    code = re.sub(r"\b8000\b", str(free_port()), code)  # the docs' port, taken by nothing else
    script.write_text(DJANGO_PRELUDE + code if in_django else code)
    argv = [sys.executable, str(script)]
    if re.search(r"^(async )?def test_", code, re.M):
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    env = subprocess_env(PAGE_ENV)
    env["DJANGO_SETTINGS_MODULE"] = "tests.django_project.settings"
    env["ROLLOUT_DJANGO_TEST_DB"] = str(tmp_path / "db.sqlite3")
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=SERVING)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        text = output.decode(errors="replace")
        assert "Traceback" not in text, f"{where} failed while serving:\n{text}"
        return  # a server, still serving
    text = output.decode(errors="replace")
    assert proc.returncode == 0, f"{where} failed:\n{text}"


BLOCKS = blocks()


@pytest.mark.slow
@pytest.mark.parametrize(("where", "code"), BLOCKS)
def test_the_block_runs(where: str, code: str, tmp_path: Path) -> None:
    skip_without(code)
    run_block(where, code, tmp_path)


def test_the_pages_have_blocks() -> None:
    assert len({param.values[0] for param in BLOCKS}) >= 30


def test_a_broken_block_fails(tmp_path: Path) -> None:
    """The runner is not blind: a block that raises fails it."""
    with pytest.raises(AssertionError, match="failed"):
        run_block("broken", "raise SystemExit(3)\n", tmp_path)


def test_a_failing_test_in_a_block_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="failed"):
        run_block("broken", "def test_it() -> None:\n    assert False\n", tmp_path)


def test_fragments_are_left_out() -> None:
    text = "<!-- fragment -->\n```python\nraise\n```\n```python\nx = 1\n```\n"
    assert extract(text) == [(1, "x = 1\n")]


def test_blocks_in_list_items_are_dedented() -> None:
    text = (
        "- item:\n\n  ```python\n  if True:\n      x = 1\n\n  y = 2\n  ```\n"
        "- other:\n\n  <!-- fragment -->\n  ```python\n  raise\n  ```\n"
    )
    assert extract(text) == [(0, "if True:\n    x = 1\n\ny = 2\n")]
