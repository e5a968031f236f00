"""The sandbox CRM over real HTTP: what it records, the outcomes it can be told to give, and its
Stripe-like Idempotency-Key handling."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.validation_service.post_out_support import Crm


async def post(url: str, body: dict, key: str = "", form: bool = False) -> tuple[int, str, dict]:
    headers = {"Idempotency-Key": key} if key else {}
    async with (
        aiohttp.ClientSession() as s,
        s.post(url, headers=headers, **({"data": body} if form else {"json": body})) as r,
    ):
        return r.status, await r.text(), dict(r.headers)


async def test_accepts_with_a_record_id_and_records_the_request(sandbox) -> None:
    crm = Crm(sandbox.url)
    status, text, _ = await post(crm.url, {"lead_id": "L1", "email": "a@example.com"}, key="k1")
    assert (status, text) == (201, '{"status": "accepted", "id": "crm-1"}')
    stats = await crm.stats()
    assert (stats["received"], stats["created"], stats["replayed"], stats["doubled"]) == (1, 1, 0, [])
    [record] = stats["records"]
    assert record["body"] == {"lead_id": "L1", "email": "a@example.com"}
    assert (record["lead"], record["idempotency_key"], record["method"]) == ("L1", "k1", "POST")


async def test_a_repeated_key_gets_the_same_answer_and_no_second_record(sandbox) -> None:
    crm = Crm(sandbox.url)
    first = await post(crm.url, {"lead_id": "L1"}, key="same")
    await crm.set(sequence=["fail"])  # even when told to fail, an accepted key replays
    again = await post(crm.url, {"lead_id": "L1"}, key="same")
    assert first[:2] == again[:2] == (201, '{"status": "accepted", "id": "crm-1"}')
    assert again[2]["Idempotent-Replayed"] == "true"
    stats = await crm.stats()
    assert (stats["received"], stats["created"], stats["replayed"]) == (2, 1, 1)
    assert stats["per_lead"] == {"L1": {"received": 2, "created": 1}}


async def test_without_keys_repeats_are_counted_as_doubles(sandbox) -> None:
    crm = Crm(sandbox.url)
    await post(crm.url, {"lead_id": "L1"})
    await post(crm.url, {"lead_id": "L1"})
    assert (await crm.stats())["doubled"] == ["L1"]


async def test_sequence_of_failures_rejections_garbage_then_accept(sandbox) -> None:
    crm = Crm(sandbox.url)
    await crm.set(sequence=["fail", "reject", "garbage", "accept"], fail_status=502, reject_reason="bad phone")
    answers = [(await post(crm.url, {"lead_id": f"L{i}"}, key=f"k{i}"))[:2] for i in range(4)]
    assert answers == [
        (502, '{"status": "error", "reason": "service unavailable"}'),
        (200, '{"status": "rejected", "reason": "bad phone"}'),
        (200, "<html><body>502 upstream hiccup</body></html>"),
        (201, '{"status": "accepted", "id": "crm-1"}'),
    ]
    stats = await crm.stats()
    assert (stats["received"], stats["created"]) == (4, 1)


async def test_a_timed_out_request_still_creates_its_record_once(sandbox) -> None:
    crm = Crm(sandbox.url)
    await crm.set(sequence=["timeout"], timeout_seconds=0.3)
    async with aiohttp.ClientSession() as s:
        try:
            async with s.post(
                crm.url,
                json={"lead_id": "L1"},
                headers={"Idempotency-Key": "k"},
                timeout=aiohttp.ClientTimeout(total=0.05),
            ):
                raise AssertionError("expected a timeout")
        except TimeoutError:
            pass
    retry = await post(crm.url, {"lead_id": "L1"}, key="k")  # arrives while the first still runs
    assert retry[0] == 201
    await asyncio.sleep(0.4)  # let the slow first request finish: it finds the key and creates nothing
    stats = await crm.stats()
    assert (stats["received"], stats["created"], stats["replayed"]) == (2, 1, 1)


async def test_form_bodies_rates_and_reset(sandbox) -> None:
    crm = Crm(sandbox.url)
    await post(crm.url, {"lead_id": "F1", "name": "Zoë"}, key="f", form=True)
    assert (await crm.stats())["records"][0]["body"] == {"lead_id": "F1", "name": "Zoë"}
    await crm.set(fail_rate=1.0)
    assert (await post(crm.url, {"lead_id": "F2"}, key="g"))[0] == 503
    async with aiohttp.ClientSession() as s:
        async with s.delete(f"{sandbox.url}/crm/_control/{crm.name}") as r:
            assert r.status == 200
        async with s.post(f"{sandbox.url}/crm/_control/{crm.name}", json={"sequence": ["explode"]}) as r:
            assert r.status == 400
    assert (await crm.stats())["received"] == 0
