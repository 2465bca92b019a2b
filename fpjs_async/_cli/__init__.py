"""The `fpjs-async` command line (console script `fpjs_async._cli:main`, `python -m fpjs_async`).

Progress bars and tables need the `cli` extra (rich); `serve` needs uvicorn (in it too).
"""

from fpjs_async._cli._app import main

__all__ = ["main"]
