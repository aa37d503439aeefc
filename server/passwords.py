"""argon2id hashing off the event loop.

One hash or check costs ~50-100 ms of CPU and 64 MiB with argon2-cffi's defaults. On the event
loop that carries live calls that stalls every call's signaling (a burst of wrong passwords held
pings for up to 0.9 s). argon2-cffi releases the GIL while it works, so a small pool of threads
owned by the app does the work beside the loop; the pool's size bounds the CPU and memory a
flood of sign-ins can take (further attempts wait their turn in the pool's queue).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, *, threads: int = 2) -> None:
        self.hasher = hasher or PasswordHasher()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        # Password checks done, wrong or right: what the sign-in limit bounds (tests read it).
        self.checks = 0

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        self.checks += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        with contextlib.suppress(VerificationError, InvalidHashError):
            return self.hasher.verify(password_hash, password)
        return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
