"""What every command shares: exit statuses, the one-line failure, the parser, the secrets."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import BinaryIO, Literal, NoReturn, TypeAlias

from fpjs_async._redact import redact_text

__all__ = [
    "ENV_API_KEY",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "Commands",
    "Parser",
    "Secrets",
    "open_file",
]

#: The environment variable holding the secret API key.
ENV_API_KEY = "FPJS_API_KEY"

EXIT_OK = 0
#: The API or the network failed, or some visitors of `bulk` or `search-many` did.
EXIT_FAILURE = 1
#: A bad argument, a missing key, an input file that cannot be read.
EXIT_USAGE = 2
#: Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure reported as one line on stderr, ending the command with `status`.

    Args:
        message: What went wrong, for a person.
        status: The exit status.
    """

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def open_file(path: str, mode: Literal["rb", "wb"]) -> BinaryIO:
    """The file at `path`, opened to read or write bytes.

    Raises:
        CommandError: It cannot be opened (status 2).
    """
    try:
        return open(path, mode)
    except OSError as exc:
        verb = "read" if mode == "rb" else "write"
        raise CommandError(f"cannot {verb} {path}: {exc.strerror or exc}", EXIT_USAGE) from None


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are a `CommandError` instead of an exit.

    argparse quotes the arguments it rejects, and one of them may be the key (given in the
    wrong place): raising lets the caller redact the message before printing it.
    """

    def error(self, message: str) -> NoReturn:
        """Raise the usage error as a `CommandError` with status 2."""
        raise CommandError(f"{message} (see '{self.prog} --help')", EXIT_USAGE)


#: The subcommands of the parser, to which each command module adds its own.
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"  # not subscriptable at run time


class Secrets:
    """The keys a command line may carry, to be removed from anything printed.

    Args:
        argv: The arguments: the value of every `--api-key` is a secret.
        environ: The environment: `FPJS_API_KEY` is a secret.
    """

    def __init__(self, argv: Sequence[str], environ: Mapping[str, str]) -> None:
        found = [environ.get(ENV_API_KEY, "")]
        for position, argument in enumerate(argv):
            if argument == "--api-key" and position + 1 < len(argv):
                found.append(argv[position + 1])
            elif argument.startswith("--api-key="):
                found.append(argument.partition("=")[2])
        # Longest first, so that a key containing another is replaced whole.
        self._secrets = sorted({key for key in found if key}, key=len, reverse=True)

    @classmethod
    def of_process(cls, argv: Sequence[str]) -> Secrets:
        """The secrets of `argv` and of this process's environment."""
        return cls(argv, os.environ)

    def redact(self, text: str) -> str:
        """`text` without any of the secrets."""
        for secret in self._secrets:
            text = redact_text(text, secret)
        return text

    def report(self, message: str) -> None:
        """Print `error: message` on stderr, without any of the secrets."""
        print(f"error: {self.redact(message)}", file=sys.stderr, flush=True)
