"""API keys the database has just verified, remembered for a few seconds.

A hot key then costs the guard no database session at all: the SHA-256 of the key names its
principal. Only a verified key is remembered; a malformed, unknown or revoked key is never, so
each such request asks the database again (and a key is never taken for valid on the strength
of an earlier miss).

An entry lives `TTL_SECONDS` from the moment its lookup *began*, so whatever the lookup read is
at most that old when the entry is dropped: a key revoked from any process (`recon apikeys
revoke`, another server) is refused by every process within 3 seconds, inside the 5 seconds
operations are promised. Each process has its own cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from recon.auth.service import Principal

TTL_SECONDS = 3.0
# keys a deployment holds are few; past this many live entries the expired ones are dropped,
# and if that is not enough, all of them (a cache may always forget)
MAX_ENTRIES = 10_000


class KeyCache:
    """Key digest → principal, each entry for `ttl` seconds of `monotonic` time."""

    def __init__(
        self,
        *,
        ttl: float = TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self.monotonic = monotonic
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, digest: str) -> Principal | None:
        """The principal of a key verified less than `ttl` ago, else None."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires, principal = entry
        if self.monotonic() >= expires:
            del self._entries[digest]
            return None
        return principal

    def remember(self, digest: str, principal: Principal, *, looked_up_at: float) -> None:
        """Keep a key the database verified in a lookup that began at `looked_up_at` (the
        cache's `monotonic` time)."""
        if len(self._entries) >= self._max_entries:
            self._drop_expired()
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
        self._entries[digest] = (looked_up_at + self.ttl, principal)

    def __len__(self) -> int:
        return len(self._entries)

    def _drop_expired(self) -> None:
        now = self.monotonic()
        for digest in [d for d, (expires, _) in self._entries.items() if now >= expires]:
            del self._entries[digest]
