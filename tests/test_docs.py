"""Every Python example of the documentation runs, so the docs cannot rot.

Each ```python block of docs/*.md and README.md is one test, named `page:line`. A block runs
as a script (its top-level `asyncio.run(main())` included) in a fresh module, with every
`*.api.fpjs.io` host routed to an emulator that holds the docs' example visitors (see
tests/_docs_emulator.py for the convention: key "your-secret-api-key", visitor
"Ibk1527CUFmcnjLwIs4A9"); other hosts (the emulator on loopback) are reached as usual.
A block that defines `test_*` functions is run by pytest, in a subprocess. Lines
`--8<-- "file"` are replaced by the file, as the site does.

A block that cannot run is marked, with a reason, by `<!-- not-run: reason -->` on the line
before it or by `title="fragment"` in its info string; it is still compiled. Marks are rare.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import respx
from _docs_emulator import EXAMPLE_API_KEY, example_emulator

import fpjs_async
import fpjs_async.events
import fpjs_async.sealed
import fpjs_async.testing
import fpjs_async.webhooks

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]
EXAMPLES = DOCS / "examples"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run:(?P<reason>.*?)-->\s*$")
# pymdownx.snippets: `--8<-- "path"` on one line, or paths between two `--8<--` lines (the
# form the docs use: it is not valid Python, so ruff's formatter leaves it alone).
_SNIPPET = re.compile(
    r"^[ \t]*-{1,}8<-{1,}[ \t]+\"(?P<path>[^\"]+)\"[ \t]*$"
    r"|^-{1,}8<-{1,}[ \t]*\n(?P<paths>(?:.+\n)+?)-{1,}8<-{1,}[ \t]*$",
    re.MULTILINE,
)
_PYTHON = frozenset({"python", "py", "python3"})
_SHELL = frozenset({"bash", "sh", "shell", "console"})
# What ends a command in a shell line (shlex with punctuation_chars splits these out).
_SHELL_OPERATORS = frozenset({"|", "||", "&", "&&", ";", ">", ">>", "<", "(", ")", "$("})
_API_HOSTS = r"^([a-z]+\.)?api\.fpjs\.io$"


@attrs.frozen
class Block:
    """One fenced Python block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    code: str  # with the snippets included
    not_run: str | None  # the reason, for a marked block
    includes: bool = False  # whether it includes a file (`--8<--`)

    @property
    def name(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{Path(page).as_posix()}:{self.line}"


def _expand_snippets(code: str) -> str:
    """`code` with each snippet replaced by its files (paths from the root)."""

    def include(match: re.Match[str]) -> str:
        paths = [match["path"]] if match["path"] else match["paths"].split()
        return "\n".join((ROOT / path).read_text().rstrip("\n") for path in paths)

    return _SNIPPET.sub(include, code)


def extract_blocks(page: Path, languages: frozenset[str] = _PYTHON) -> Iterator[Block]:
    """The blocks of a Markdown page in one of `languages` (Python by default), in order."""
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        fence, indent, info = opening["fence"], opening["indent"], opening["info"]
        start = index
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            index += 1
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
        language = info.split(" ", 1)[0].lstrip("{.").rstrip("}").lower()
        if language not in languages:
            continue
        body = textwrap.dedent(
            "\n".join(line.removeprefix(indent) for line in lines[start : index - 1])
        )
        previous = next((line for line in reversed(lines[: start - 1]) if line.strip()), "")
        marked = _NOT_RUN.match(previous)
        not_run = marked["reason"].strip() if marked else None
        if not_run is None and 'title="fragment"' in info:
            not_run = "fragment"
        includes = _SNIPPET.search(body) is not None
        yield Block(page, start, _expand_snippets(body), not_run, includes)


BLOCKS = [block for page in PAGES for block in extract_blocks(page)]


def _compile(block: Block) -> types.CodeType:
    """The block's code; a fragment may `await` at its top level, a script may not."""
    # Padding keeps the line numbers of a traceback those of the page (without snippets).
    padding = "" if block.includes else "\n" * block.line
    flags = 0 if block.not_run is None else ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    return compile(padding + block.code, str(block.page), "exec", flags=flags, dont_inherit=True)


def _test_functions(tree: ast.Module) -> list[str]:
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
    ]


def _runs_asyncio(tree: ast.Module) -> bool:
    """Whether the block calls `asyncio.run(...)` at its top level (not behind a guard)."""
    return any(
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) == "asyncio.run"
        for node in tree.body
    )


def _pythonpath() -> list[str]:
    return [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]


def _run_as_pytest(block: Block, tests: list[str], tmp_path: Path) -> None:
    module = tmp_path / "test_docs_example.py"
    module.write_text(block.code)
    pytest_options = [
        "-q",
        "-W",
        "error",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "-p",
        "no:aiohttp",
    ]
    outcome = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_options, "--rootdir", str(tmp_path), str(module)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES), *_pythonpath()])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    summary = re.search(r"^(\d+) passed in ", outcome.stdout, flags=re.MULTILINE)
    assert summary is not None, outcome.stdout  # nothing failed, skipped or warned
    assert int(summary[1]) >= len(tests)


def _run_as_script(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _compile(block)
    fake = example_emulator()
    module = types.ModuleType("docs_example")
    module.__file__ = str(block.page)
    # The module is importable while it runs: dataclasses and pydantic look it up.
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    with respx.mock(assert_all_called=False) as router:
        router.route(host__regex=_API_HOSTS).mock(side_effect=respx.ASGIHandler(fake.app))
        router.route().pass_through()
        exec(code, module.__dict__)
    if EXAMPLE_API_KEY in block.code and _runs_asyncio(ast.parse(block.code)):
        assert fake.requests, "the example sent nothing to the API"


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_example_runs(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code = _compile(block)  # a marked block must still be valid Python
    if block.not_run is not None:
        assert code.co_filename == str(block.page)
        return
    tests = _test_functions(ast.parse(block.code))
    if tests:
        _run_as_pytest(block, tests, tmp_path)
    else:
        _run_as_script(block, monkeypatch)


def test_examples_are_found_on_every_page_that_has_some() -> None:
    pages = {block.page for block in BLOCKS}
    assert {DOCS / "index.md", DOCS / "pagination.md", ROOT / "README.md"} <= pages
    assert len(BLOCKS) >= 10


def test_not_run_marks_are_rare_and_explained() -> None:
    marked = [block for block in BLOCKS if block.not_run is not None]
    assert all(block.not_run for block in marked), "a not-run mark needs a reason"
    assert len(marked) <= max(2, len(BLOCKS) // 10), [block.name for block in marked]


FILES = ("web_common.py", "worker.py")


def test_the_extractor_reads_fences_marks_and_snippets(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n"
        "```python\nprint(1)\n```\n\n"
        "```bash\necho no\n```\n\n"
        "<!-- not-run: needs a real key -->\n"
        '```python title="x"\nprint(2)\n```\n\n'
        "- a list item:\n\n"
        "    ````py\n    print(3)\n    ```\n    still code\n    ````\n\n"
        '```python title="fragment"\nawait x\n```\n'
        '```python\n--8<-- "docs/examples/web_common.py"\n```\n'
        "```python\n--8<--\ndocs/examples/web_common.py\ndocs/examples/worker.py\n--8<--\n```\n"
    )
    blocks = list(extract_blocks(page))
    assert [(block.line, block.not_run) for block in blocks] == [
        (3, None),
        (12, "needs a real key"),
        (18, None),
        (24, "fragment"),
        (27, None),
        (30, None),
    ]
    assert blocks[0].code == "print(1)"
    assert blocks[2].code == "print(3)\n```\nstill code"
    web_common, worker = ((EXAMPLES / name).read_text().rstrip("\n") for name in FILES)
    assert blocks[4].code == web_common
    assert blocks[5].code == f"{web_common}\n{worker}"


def _reference_entries() -> set[str]:
    text = (DOCS / "reference.md").read_text()
    return set(re.findall(r"^::: ([\w.]+)\s*$", text, flags=re.MULTILINE))


def _documented(entries: set[str], prefix: str, name: str, obj: object) -> bool:
    """Whether `prefix.name` is in the reference: itself, at its home, or with its module."""
    home = getattr(obj, "__module__", None)
    paths = {f"{prefix}.{name}", f"{home}.{name}"}
    return bool(paths & entries) or home in entries


@pytest.mark.parametrize(
    "module",
    [
        fpjs_async,
        fpjs_async.events,
        fpjs_async.webhooks,
        fpjs_async.sealed,
        fpjs_async.testing,
    ],
    ids=lambda module: module.__name__,
)
def test_the_api_reference_lists_every_public_name(module: types.ModuleType) -> None:
    entries = _reference_entries()
    missing = {
        f"{module.__name__}.{name}"
        for name in module.__all__
        if not _documented(entries, module.__name__, name, getattr(module, name))
    }
    assert not missing, f"add to docs/reference.md: {sorted(missing)}"


def cli_commands(pages: list[Path]) -> Iterator[tuple[str, list[str]]]:
    """(`page:line+n`, arguments) of each `fpjs-async ...` command in the shell blocks."""
    for page in pages:
        for block in extract_blocks(page, _SHELL):
            script = block.code.replace("\\\n", " ")
            for offset, line in enumerate(script.splitlines(), start=1):
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True  # `http://h:8080`, `10,50` are one word each
                words = list(lexer)
                command_starts = [0] + [i + 1 for i, w in enumerate(words) if w in _SHELL_OPERATORS]
                for start in command_starts:
                    while start < len(words) and "=" in words[start]:  # VAR=value command
                        start += 1
                    if start == len(words) or words[start] != "fpjs-async":
                        continue
                    arguments = []
                    for argument in words[start + 1 :]:
                        if argument in _SHELL_OPERATORS:
                            break
                        arguments.append(argument)
                    yield f"{block.name}+{offset}", arguments


CLI_COMMANDS = list(cli_commands(PAGES))


@pytest.mark.parametrize(
    "arguments", [arguments for _, arguments in CLI_COMMANDS], ids=[n for n, _ in CLI_COMMANDS]
)
def test_cli_commands_shown_parse(arguments: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from fpjs_async._cli._app import build_parser

    monkeypatch.setenv("FPJS_API_KEY", EXAMPLE_API_KEY)  # as a reader would have it set
    if {"--help", "-h", "--version"} & set(arguments):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(arguments)
        assert exit_.value.code == 0
    else:
        # A command that does not parse raises SystemExit(2) here, with argparse's message.
        parsed = build_parser().parse_args(arguments)
        assert parsed.command == arguments[0]


def test_the_cli_commands_are_found_in_shell_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\n"
        "pip install fpjs-async && FPJS_API_KEY=k fpjs-async visits abc --limit 5 | head\n"
        "fpjs-async bulk \\\n  --concurrency 3 < ids.txt > out.ndjson\n"
        "```\n"
        "```python\nfpjs-async demo\n```\n"
    )
    assert list(cli_commands([page])) == [
        ("page.md:1+1", ["visits", "abc", "--limit", "5"]),
        ("page.md:1+2", ["bulk", "--concurrency", "3"]),
    ]
