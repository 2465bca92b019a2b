"""Where the shared specification lives (`<repo>/../shared`), for the tests that read it.

A test of the shared files is skipped when they are absent, as in a copy of the repository
alone: `require` says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
#: The Server API v4 OpenAPI tree (`bundled.json` has every `$ref` inlined).
V4_SPEC = SHARED / "spec" / "v4"
#: The API's real example bodies.
V4_EXAMPLES = V4_SPEC / "paths" / "examples"
#: The v3 reference fixtures (`<case>/<status>.json`).
OPENAPI_FIXTURES = SHARED / "fixtures" / "openapi"


def require(path: Path) -> Path:
    """`path`, or skip the test when it is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path
