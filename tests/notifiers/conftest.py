"""Shared helpers for the notifier tests: a controllable clock and a TLS cert."""

from __future__ import annotations

import pytest

from tests.fakes import make_self_signed_cert


class FakeClock:
    """Monotonic seconds that only move when told to, or when something sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def test_cert(tmp_path_factory):
    try:
        return make_self_signed_cert(tmp_path_factory.mktemp("cert"))
    except RuntimeError as exc:
        pytest.skip(f"cannot make a TLS certificate: {exc}")
