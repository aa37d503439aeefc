"""Stopping a loop whose first cancellation a library swallowed (redis-py can turn one into a
connection error): `stop` cancels again instead of waiting forever, and a loop that checks
`cancelled()` after an error ends at once."""

from __future__ import annotations

import asyncio

from signaling import tasks


async def test_a_swallowed_cancellation_is_repeated_and_the_task_ends() -> None:
    swallowed = 0

    async def loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as a library that turned it into an error would

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(tasks.stop(task, wait=0.2), timeout=5)
    assert task.done()
    assert task.cancelled()
    assert swallowed == 1


async def test_a_loop_that_checks_after_an_error_ends_on_the_first_cancel() -> None:
    errors = 0

    async def loop() -> None:
        nonlocal errors
        while True:
            try:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    raise ConnectionError("lost mid-command") from None
            except Exception:
                if tasks.cancelled():
                    raise asyncio.CancelledError from None
                errors += 1

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done
    assert task.cancelled()
    assert errors == 0


async def test_a_task_that_never_stops_is_given_up_on_without_hanging() -> None:
    give_in = False

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                if give_in:
                    raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(tasks.stop(task, tries=2, wait=0.1), timeout=5)
    assert not task.done()
    give_in = True  # (so that the test leaves nothing running)
    await tasks.stop(task)
    assert task.cancelled()
