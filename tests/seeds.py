"""Where the seed documents are, for the tests that check the packs against them.

The seeds (`../shared/seeds/` beside the repository, or `CCAL_SEEDS_DIR`) are not part of the
repository: on a fresh clone without them these tests skip. In CI (`CI=true`) the seeds must be
present, so there a missing directory fails the test instead of skipping it silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def seeds_location() -> Path:
    return Path(os.environ.get("CCAL_SEEDS_DIR") or ROOT.parent / "shared" / "seeds")


def require_seeds_dir() -> Path:
    """The seed directory; skips the calling test when it is missing, fails it under CI=true."""
    path = seeds_location()
    if path.is_dir() and any(path.glob("*.txt")):
        return path
    message = f"seed documents not found at {path} (set CCAL_SEEDS_DIR)"
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(message + "; CI=true requires them", pytrace=False)
    pytest.skip(message)
