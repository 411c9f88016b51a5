"""Test sessions: ``nox -s tests`` (newest), ``oldest``, ``compat``, ``ci``; ``nox -l`` lists them.

- ``tests-3.X``: the whole suite on the newest releases (``.[test,compat]``), one session per Python.
- ``oldest``: the whole suite on Python 3.10 with the core dependencies and the frameworks (``PINNED``)
  pinned to the lower bounds that pyproject.toml declares (a constraints file generated from
  it, so the pins follow the bounds).
- ``compat``: the server and framework matrix (``tests/compat``), with ``CI=true`` so that nothing
  may skip.
- ``ci``: the light subset for every push: the suite without the ``slow`` tests (the server matrix).
- ``mutation``: mutmut over the core modules with the fast core tests; fails on a surviving mutant
  that ``tests/mutation-equivalents.md`` does not list as equivalent (not in CI: minutes).

uv makes the environments when it is installed (``pip install nox uv``), else virtualenv.
"""

from __future__ import annotations

import os
import re
import shutil

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: nox itself runs there too
    import tomli as tomllib  # type: ignore[no-redef]
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# 3.14: no pyenv build here; put the one .ci/python314.sh prints on PATH as python3.14.
PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
OLDEST_PYTHON = "3.10"
#: The dependencies whose lower bounds the ``oldest`` session proves.
PINNED = (
    "starlette",
    "PyJWT",
    "asgiref",
    "anyio",
    "Django",
    "Flask",
    "fastapi",
    "aiohttp",
    "aiohttp-session",
    "tornado",
    "litestar",
    "djangorestframework",
)
#: Further pins for the oldest run (``NAME==X`` strings): Flask 2.3's test client reads
#: ``werkzeug.__version__``, which Werkzeug 3.1 removed; its lower bound is Werkzeug 2.3.
#: aiohttp 3.9.0 passes ``host:port`` to ``yarl.URL.build`` when it routes into a sub-application,
#: which newer yarls refuse (``ValueError: Host ... cannot contain ':'``); 1.9.4 was its yarl.
EXTRA_PINS: tuple[str, ...] = ("Werkzeug==2.3.0", "yarl==1.9.4")

#: Test and compat packages that cannot be installed with the oldest pins (their tests skip, with
#: the reason, under ``oldest``): every Quart release needs a newer Flask/Werkzeug than Flask 2.3's.
OLDEST_WITHOUT = ("quart", "quart-auth")

LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m; "
    "print(*sorted({f'{d.metadata[\"Name\"]}=={d.version}' for d in m.distributions()}, key=str.lower), "
    "sep=chr(10))"
)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests-3.11"]
# uv must use the interpreters on this machine, never download one.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
# pyenv installs every Python, but its shims only run the global one: let them run all of them.
if shutil.which("pyenv") and "PYENV_VERSION" not in os.environ:
    versions = sorted(p.name for p in (Path.home() / ".pyenv" / "versions").glob("3.*"))
    default = (Path.home() / ".pyenv" / "version").read_text().split()
    os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys([*default, *versions]))


def lower_bounds() -> list[str]:
    """``NAME==X`` for each pinned dependency, from its ``>=X`` in pyproject.toml."""
    project = PYPROJECT["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+).*", requirement)
        if match and match[1].lower() in {n.lower() for n in PINNED}:
            pins.setdefault(match[1], f"{match[1]}=={match[3]}")
    missing = {n.lower() for n in PINNED} - {n.lower() for n in pins}
    if missing:
        raise RuntimeError(f"no lower bound in pyproject.toml for {sorted(missing)}")
    return sorted([*pins.values(), *EXTRA_PINS], key=str.lower)


def pytest(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider", *args, *session.posargs, env=env
    )


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite on the newest releases."""
    session.install("-e", ".[test,compat]")
    pytest(session, "tests")


@nox.session(python=OLDEST_PYTHON)
def oldest(session: nox.Session) -> None:
    """The whole suite with the pinned dependencies at their lower bounds."""
    constraints = Path(session.create_tmp()) / "oldest-constraints.txt"
    constraints.write_text("\n".join(lower_bounds()) + "\n")
    session.log("pins: " + ", ".join(lower_bounds()))
    extras = PYPROJECT["project"]["optional-dependencies"]
    requirements = [
        requirement
        for requirement in (*extras["test"], *extras["compat"], *extras["lint"])
        if re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower() not in OLDEST_WITHOUT
    ]
    session.install("-e", ".", *requirements, "-c", str(constraints))
    # What was installed (uv makes no pip in the environment, so not ``pip list``).
    session.run("python", "-c", LIST_DISTRIBUTIONS, silent=False)
    without = ",".join(name.replace("-", "_") for name in OLDEST_WITHOUT)
    # Skips are expected here, each with its reason (Quart; the CLI's inspect and check under
    # PyJWT 2.8; what Django 4.2 lacks): CI's rule that nothing may skip holds in its other runs.
    pytest(session, "tests", "-rs", env={"ROLLOUT_TESTS_WITHOUT": without, "CI": ""})


@nox.session
def compat(session: nox.Session) -> None:
    """The server and framework matrix; nothing may skip."""
    session.install("-e", ".[test,compat]")
    pytest(session, "tests/compat", "-v", env={"CI": "true"})


@nox.session
def ci(session: nox.Session) -> None:
    """The light subset: everything but the ``slow`` server matrix."""
    session.install("-e", ".[test,compat]")
    pytest(session, "tests", "-m", "not slow")


#: The equivalent mutants, each with why: the first column of this file's table.
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.md"


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing of decision.py, tokens.py and _config.py with the fast core tests (mutmut,
    configured in pyproject.toml's ``[tool.mutmut]``). Not in CI: about 4 minutes on two cores.

    Fails unless the mutants that no test kills are exactly those listed, each with why it is
    equivalent, in ``tests/mutation-equivalents.md``: a new survivor needs a test (or its reason
    there), and a listed one that is now killed must leave the list. ``mutmut show NAME`` shows a
    mutant. Results are cached in ``mutants/``; delete it for a clean run. With arguments (mutant
    names for ``mutmut run``) it only runs those and lists the results.
    """
    session.install("-e", ".[test,compat]", "mutmut>=3.3")
    session.run("mutmut", "run", *session.posargs)
    results = session.run("mutmut", "results", silent=True, success_codes=[0, 1])
    print(results)
    if session.posargs:
        return
    # ``mutmut results`` lists every mutant not killed as "    NAME: STATUS".
    status = dict(re.findall(r"^\s*(\S+): (.+?)\s*$", str(results), flags=re.MULTILINE))
    hung = sorted(name for name, state in status.items() if state == "timeout")
    alive = {name for name, state in status.items() if state != "timeout"}
    listed = {
        "rollout_middleware." + name
        for name in re.findall(r"^\| `([^`]+)`", EQUIVALENTS.read_text(), flags=re.MULTILINE)
    }
    if hung:
        session.warn(f"these mutants made a test hang (make it fail instead): {', '.join(hung)}")
    problems = [f"{name} {status[name]}: kill it with a test" for name in sorted(alive - listed)]
    problems += [
        f"{name} is killed now: take it out of {EQUIVALENTS.name}"
        for name in sorted(listed - alive - set(hung))
    ]
    if problems:
        session.error("\n".join(problems))
    session.log(f"every surviving mutant ({len(alive)}) is a listed equivalent")
