"""Cheap hashing for tests: argon2id all the same, only lighter (accounts made per test)."""

from argon2 import PasswordHasher

from server.passwords import Passwords

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
FAST_PASSWORDS = Passwords(FAST_HASHER)
