"""A sliding-window rate limiter with an injectable clock, so tests need not sleep."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]  # monotonic seconds
Sleep = Callable[[float], Awaitable[None]]


class SlidingWindowLimiter:
    """At most `limit` acquisitions in any `window` seconds.

    `acquire` waits for a free slot when the wait is at most `max_wait`
    seconds and otherwise refuses, so a caller can report "try later" instead
    of blocking the reminder loop for minutes. `block_for` pushes every
    acquisition back, for when the server itself said "too many requests".
    """

    def __init__(self, limit: int, window: float = 60.0, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._stamps: deque[float] = deque()
        self._blocked_until = float("-inf")

    def wait_needed(self) -> float:
        now = self.clock()
        while self._stamps and self._stamps[0] <= now - self.window:
            self._stamps.popleft()
        free_at = now
        if len(self._stamps) >= self.limit:
            free_at = self._stamps[len(self._stamps) - self.limit] + self.window
        return max(free_at, self._blocked_until) - now

    async def acquire(self, max_wait: float) -> bool:
        while True:
            wait = self.wait_needed()
            if wait <= 0:
                self._stamps.append(self.clock())
                return True
            if wait > max_wait:
                return False
            await self.sleep(wait)

    def block_for(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self.clock() + seconds)
