"""The project's checks: `nox` runs every session but the benchmarks."""

from __future__ import annotations

import glob
import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

# Pythons installed with pyenv but not selected as its global version answer only through
# shims that refuse to run them; put their own bin folders on PATH so nox finds them.
_PYENV_ROOT = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
os.environ["PATH"] = os.pathsep.join(
    [
        *sorted(glob.glob(os.path.join(_PYENV_ROOT, "versions", "3.1[0-3].*", "bin"))),
        os.environ.get("PATH", ""),
    ]
)


#: The extras every test run installs; the tests of the others skip without them.
TEST_EXTRAS = "test,cli,http2,sealed,redis,aiohttp"
#: The Python whose test run also installs `speedups`, so the orjson path is tested too.
SPEEDUPS_PYTHON = "3.12"


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite, warnings as errors, on every installed Python from 3.10 to 3.13.

    The run on `SPEEDUPS_PYTHON` installs the `speedups` extra too; the others decode with
    the standard `json` module alone.
    """
    extras = TEST_EXTRAS + (",speedups" if session.python == SPEEDUPS_PYTHON else "")
    session.install("-e", f".[{extras}]")
    session.run("pytest", *session.posargs)


@nox.session(python=SPEEDUPS_PYTHON)
def coverage(session: nox.Session) -> None:
    """Branch coverage of the test suite, with every extra (not part of the default run).

    Prints the report with the lines and branches not covered; `coverage html` afterwards
    writes it as pages to `htmlcov/`.
    """
    session.install("-e", f".[{TEST_EXTRAS},speedups]", "coverage[toml]>=7.4")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "-q", *session.posargs)
    session.run("coverage", "report")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("mypy", "-e", f".[{TEST_EXTRAS},speedups]")
    session.run("mypy", "--strict", "fpjs_async")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    # ruff lets mkdocstrings format the signatures it shows.
    session.install("-e", ".[docs]", "ruff")
    if not os.path.exists("mkdocs.yml"):
        session.skip("no mkdocs.yml yet")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


#: The official SDKs the benchmarks compare against, v3 and v4 (in the bench session only).
OFFICIAL_SDKS = ["fingerprint-pro-server-api-sdk==8.15.*", "fingerprint-server-sdk==9.*"]


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks (not part of the default run): each script prints its figures.

    `nox -s bench` runs every `benchmarks/*.py` not starting with `_`, without arguments;
    `nox -s bench -- request bulk` runs only the scripts named.
    """
    # trio: the pacing benchmark runs on its virtual clock.
    session.install("-e", ".[cli,testing,speedups,redis,aiohttp]", "trio", *OFFICIAL_SDKS)
    scripts = sorted(
        name.removesuffix(".py")
        for name in os.listdir("benchmarks")
        if name.endswith(".py") and not name.startswith("_")
    )
    unknown = set(session.posargs) - set(scripts)
    if unknown:
        session.error(f"no such benchmark: {', '.join(sorted(unknown))} (there are {scripts})")
    for script in session.posargs or scripts:
        session.run("python", os.path.join("benchmarks", f"{script}.py"))
