"""`python -m fpjs_async`: the `fpjs-async` command line."""

import sys

from fpjs_async._cli import main

if __name__ == "__main__":
    sys.exit(main())
