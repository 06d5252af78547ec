"""Housekeeping: a chore that fails is retried next round and never stops the others."""

from __future__ import annotations

import asyncio

from common.housekeeping import Chore, Housekeeping


def test_a_failing_chore_does_not_stop_the_others_and_runs_again_next_round() -> None:
    calls: list[str] = []

    async def broken() -> int:
        calls.append("broken")
        raise ConnectionError("database away")

    async def fine() -> int:
        calls.append("fine")
        return 3

    keeper = Housekeeping([Chore("broken", broken), Chore("fine", fine)])

    async def two_rounds() -> list[dict[str, int]]:
        return [await keeper.run_once(), await keeper.run_once()]

    assert asyncio.run(two_rounds()) == [{"fine": 3}, {"fine": 3}]
    assert calls == ["broken", "fine", "broken", "fine"]


def test_closing_stops_the_background_loop() -> None:
    rounds = 0
    ran: asyncio.Event | None = None

    async def count() -> int:
        nonlocal rounds
        rounds += 1
        assert ran is not None
        ran.set()
        return 0

    async def start_then_close() -> bool:
        nonlocal ran
        ran = asyncio.Event()
        keeper = Housekeeping([Chore("count", count)])
        keeper.start()
        await asyncio.wait_for(ran.wait(), timeout=10)  # the first round runs at once
        await keeper.aclose()
        return all(task.done() for task in asyncio.all_tasks() if task.get_name() == "housekeeping")

    assert asyncio.run(start_then_close())
    assert rounds == 1
