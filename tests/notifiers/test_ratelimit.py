"""The sliding-window limiter, driven by a fake clock."""

import asyncio

from notifiers.ratelimit import SlidingWindowLimiter


def limiter(clock, limit=3):
    return SlidingWindowLimiter(limit, 60.0, clock=clock, sleep=clock.sleep)


def test_up_to_the_limit_passes_without_waiting(clock):
    lim = limiter(clock)
    assert all(asyncio.run(lim.acquire(0)) for _ in range(3))
    assert clock.sleeps == []


def test_over_the_limit_waits_for_the_oldest_to_leave_the_window(clock):
    lim = limiter(clock)

    async def scenario():
        for _ in range(3):
            await lim.acquire(0)
            clock.advance(10)
        return await lim.acquire(120)

    assert asyncio.run(scenario())
    assert clock.sleeps == [30.0]  # first at t, now t+30: 30 more seconds


def test_refuses_when_the_wait_exceeds_max_wait(clock):
    lim = limiter(clock, limit=1)
    asyncio.run(lim.acquire(0))
    assert asyncio.run(lim.acquire(59)) is False
    assert clock.sleeps == []


def test_block_for_pushes_everything_back(clock):
    lim = limiter(clock, limit=100)
    lim.block_for(60)
    assert asyncio.run(lim.acquire(10)) is False
    assert asyncio.run(lim.acquire(60)) is True
    assert clock.sleeps == [60.0]
