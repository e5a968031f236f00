"""The SubmitLead coalescer: concurrent single calls become batches, one batch per account at a time,
and a caller's error stays that caller's. Driven with a recording submit function (the coalescer is
plain asyncio over an injected `intake.submit`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from ingest_service.capture.coalescer import Coalescer
from leadrelay.capture.leads import ACCEPTED, Answer, IncomingLead, Outcome
from leadrelay.errors import NotFound

ACCOUNT = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)
KNOWN = uuid.UUID(int=10)


def lead(n: int, source: uuid.UUID = KNOWN) -> IncomingLead:
    return IncomingLead(source_id=source, answers=(Answer("email", (f"p{n}@example.com",)),), platform_lead_id=f"p{n}")


class Recorder:
    """Records each batch and how many ran at once; a batch naming an unknown source fails whole."""

    def __init__(self, delay: float = 0.01) -> None:
        self.batches: list[tuple[uuid.UUID, list[str]]] = []
        self.running = 0
        self.most_running = 0
        self.delay = delay

    async def __call__(self, account_id: uuid.UUID, leads: Sequence[IncomingLead]) -> list[Outcome]:
        self.batches.append((account_id, [x.platform_lead_id for x in leads]))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delay)
            for x in leads:
                if x.source_id != KNOWN:
                    raise NotFound("source", str(x.source_id))
            return [Outcome(uuid.uuid4(), x.platform_lead_id, ACCEPTED) for x in leads]
        finally:
            self.running -= 1


async def test_calls_within_the_window_become_one_batch_and_each_gets_its_own_outcome() -> None:
    submit = Recorder()
    coalescer = Coalescer(submit, window=0.005)
    outcomes = await asyncio.gather(*(coalescer.submit(ACCOUNT, lead(i)) for i in range(5)))
    assert [o.platform_lead_id for o in outcomes] == ["p0", "p1", "p2", "p3", "p4"]
    assert submit.batches == [(ACCOUNT, ["p0", "p1", "p2", "p3", "p4"])]


async def test_one_batch_per_account_at_a_time_and_arrivals_gather_into_the_next() -> None:
    submit = Recorder(delay=0.05)
    coalescer = Coalescer(submit, window=0.001)
    first = asyncio.gather(*(coalescer.submit(ACCOUNT, lead(i)) for i in range(3)))
    await asyncio.sleep(0.01)  # the first batch is running
    later = asyncio.gather(*(coalescer.submit(ACCOUNT, lead(i)) for i in range(3, 10)))
    await asyncio.gather(first, later)
    assert submit.batches == [(ACCOUNT, ["p0", "p1", "p2"]), (ACCOUNT, [f"p{i}" for i in range(3, 10)])]
    assert submit.most_running == 1


async def test_accounts_do_not_wait_for_each_other() -> None:
    submit = Recorder(delay=0.05)
    coalescer = Coalescer(submit, window=0.001)
    await asyncio.gather(coalescer.submit(ACCOUNT, lead(1)), coalescer.submit(OTHER, lead(2)))
    assert sorted(submit.batches) == sorted([(ACCOUNT, ["p1"]), (OTHER, ["p2"])])
    assert submit.most_running == 2


async def test_a_full_batch_goes_at_once() -> None:
    submit = Recorder()
    coalescer = Coalescer(submit, window=10.0, max_batch=3)  # the window would never end the test
    outcomes = await asyncio.wait_for(asyncio.gather(*(coalescer.submit(ACCOUNT, lead(i)) for i in range(3))), 1)
    assert len(outcomes) == 3 and submit.batches == [(ACCOUNT, ["p0", "p1", "p2"])]


async def test_a_callers_error_is_only_that_callers() -> None:
    submit = Recorder()
    coalescer = Coalescer(submit, window=0.005)
    bad = uuid.UUID(int=99)
    results = await asyncio.gather(
        coalescer.submit(ACCOUNT, lead(1)),
        coalescer.submit(ACCOUNT, lead(2, bad)),
        coalescer.submit(ACCOUNT, lead(3)),
        return_exceptions=True,
    )
    assert results[0].platform_lead_id == "p1" and results[2].platform_lead_id == "p3"
    assert isinstance(results[1], NotFound) and str(bad) in str(results[1])
    # The whole batch failed once, then each lead was tried on its own.
    assert submit.batches[0] == (ACCOUNT, ["p1", "p2", "p3"])
    assert sorted(b[1][0] for b in submit.batches[1:]) == ["p1", "p2", "p3"]


async def test_an_unexpected_failure_reaches_every_caller_of_the_batch() -> None:
    async def broken(account_id: uuid.UUID, leads: Sequence[IncomingLead]) -> list[Outcome]:
        raise RuntimeError("database gone")

    coalescer = Coalescer(broken, window=0.001)
    results = await asyncio.gather(*(coalescer.submit(ACCOUNT, lead(i)) for i in range(2)), return_exceptions=True)
    assert [str(r) for r in results] == ["database gone", "database gone"]
    with pytest.raises(RuntimeError):
        await coalescer.submit(ACCOUNT, lead(3))
