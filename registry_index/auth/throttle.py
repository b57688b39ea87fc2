"""Failed-login throttling: a token bucket per client address and per account name.

Each failed login takes a token from the caller's address bucket and, for password logins,
from the account's bucket; an empty bucket means 429 with ``Retry-After`` before any
password work is done. Buckets refill steadily (``limit`` failures per ``window``), so a
user who mistypes a password a few times is never locked out for long.

The buckets live in this process only: with N instances an attacker spread over all of
them gets N times the budget. That bound is documented, not hidden (README, "Login
throttling"). Memory is bounded too: at most ``max_keys`` buckets, least recently used
first out.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class Buckets:
    """Token buckets by key: ``limit`` failures, refilled over ``window`` seconds."""

    def __init__(
        self,
        limit: int,
        window: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.rate = limit / window
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.limit), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.limit), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        return bucket

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        if key not in self._buckets:
            return 0.0
        bucket = self._bucket(key)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def take(self, key: str) -> None:
        bucket = self._bucket(key)
        bucket.tokens = max(0.0, bucket.tokens - 1)

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True, slots=True)
class Throttled:
    seconds: int
    who: str  # "this address" or "user 'alice'"


class LoginThrottle:
    def __init__(
        self,
        per_address: int = 10,
        per_account: int = 20,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.addresses = Buckets(per_address, window, clock=clock)
        self.accounts = Buckets(per_account, window, clock=clock)

    def check(self, address: str, account: str | None) -> Throttled | None:
        """Whether a login attempt may go ahead; ``account`` is None for tokens."""
        wait = self.addresses.wait(address)
        if wait > 0:
            return Throttled(max(1, math.ceil(wait)), "this address")
        if account is not None:
            wait = self.accounts.wait(_account_key(account))
            if wait > 0:
                return Throttled(max(1, math.ceil(wait)), f"user {account[:64]!r}")
        return None

    def failed(self, address: str, account: str | None) -> None:
        self.addresses.take(address)
        if account is not None:
            self.accounts.take(_account_key(account))


def _account_key(account: str) -> str:
    return account[:128]  # a longer name is no valid user; it need not cost more memory
