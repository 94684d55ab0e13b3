"""Each API key's request rate, held to `[api] requests_per_minute` by a token bucket.

A key's bucket holds up to a minute's worth of requests and refills at that rate: a key may
make a burst of `requests_per_minute` at once, and that many a minute for as long as it likes.
A request finding the bucket empty is refused (429) with the whole seconds until a token is
back; a refused request takes nothing. Buckets live in the process: a key may make its minute's
worth from each server process (DESIGN leaves the limit's scope open; a shared count would cost
every request a database write).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# buckets are per verified key, so few; past this many, the full (idle) ones are dropped
MAX_BUCKETS = 10_000
REFILL_SECONDS = 60.0  # an empty bucket is full again after a minute
EPSILON = 1e-6  # what float arithmetic on tokens and seconds may be off by


class RateLimiter:
    """Per key: `per_minute` requests a minute, bursts up to as many; 0 means no limit."""

    def __init__(self, per_minute: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.monotonic = monotonic
        self._per_second = per_minute / REFILL_SECONDS
        # key → (tokens left, when they were counted)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> int:
        """0 when the key may make this request now (it is counted); otherwise the whole
        seconds (at least 1) until it may make the next one."""
        if self.per_minute <= 0:
            return 0
        now = self.monotonic()
        capacity = float(self.per_minute)
        tokens, counted_at = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - counted_at) * self._per_second)
        if tokens >= 1 - EPSILON:  # a caller that waited its Retry-After is served
            if key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
                self._drop_full(now)
            self._buckets[key] = (tokens - 1, now)
            return 0
        self._buckets[key] = (tokens, now)
        wait = (1 - tokens) * REFILL_SECONDS / self.per_minute
        return max(1, math.ceil(wait - EPSILON))  # 30.000000000004 s of float arithmetic is 30

    def _drop_full(self, now: float) -> None:
        """Forget the buckets that have refilled: a new one would be the same."""
        for key in [k for k, (_, at) in self._buckets.items() if now - at >= REFILL_SECONDS]:
            del self._buckets[key]
