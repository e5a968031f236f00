"""Whether email domains receive mail (MX, else a globally reachable A/AAAA record; a null MX
refuses), for the email rule's `check_deliverability`.

DNS is network I/O: it runs in worker threads, never on the event loop and never while a
transaction holds leads locked (judging resolves a batch's domains first, then judges). Every cost
is bounded: each lookup has a timeout, at most PARALLEL run at once, and the whole call returns
after at most twice the timeout. A domain DNS did not answer for in time is not called undeliverable:
not knowing is not a reason to reject a lead. Answers are kept for a while (domains repeat).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import email_validator
from email_validator.deliverability import validate_email_deliverability

TIMEOUT_SECONDS = 3.0
PARALLEL = 8
_KEEP_SECONDS = 600.0
_MAX_KEPT = 10_000

# domain -> (expires at, why it cannot receive mail or "" when it can)
_kept: dict[str, tuple[float, str]] = {}


def known(domains: Iterable[str]) -> dict[str, str]:
    """What is kept about these domains: domain -> "" (receives mail) or why it cannot."""
    now = time.monotonic()
    return {d: hit[1] for d in domains if (hit := _kept.get(d)) is not None and hit[0] > now}


async def resolve(
    domains: Iterable[str], *, lookup_seconds: float = TIMEOUT_SECONDS, resolver: Any = None
) -> dict[str, str]:
    """Each domain answered in time -> "" (receives mail) or why it cannot; unanswered ones are left
    out. `resolver`: a dnspython Resolver (tests point one at a loopback server)."""
    wanted = sorted(set(domains))
    found = known(wanted)
    missing = [d for d in wanted if d not in found]
    if not missing:
        return found
    if resolver is None:
        resolver = email_validator.caching_resolver(timeout=lookup_seconds)  # type: ignore[arg-type]  # annotated int; dnspython takes float seconds
    else:
        resolver.lifetime = lookup_seconds
    gate = asyncio.Semaphore(PARALLEL)

    async def one(domain: str) -> tuple[str, str | None]:
        async with gate:
            return domain, await asyncio.to_thread(_lookup, domain, resolver)

    tasks = [asyncio.create_task(one(d)) for d in missing]
    done, pending = await asyncio.wait(tasks, timeout=2 * lookup_seconds)
    for task in pending:
        task.cancel()  # its thread ends within `lookup_seconds`; nobody waits for it
    expires = time.monotonic() + _KEEP_SECONDS
    if len(_kept) > _MAX_KEPT:
        _kept.clear()
    for task in done:
        domain, why = task.result()
        if why is not None:
            found[domain] = why
            _kept[domain] = (expires, why)
    return found


def _lookup(domain: str, resolver: Any) -> str | None:
    """ "" when the domain receives mail, why not when it does not, None when DNS did not say."""
    try:
        ascii_domain = email_validator.validate_email(f"a@{domain}", check_deliverability=False).ascii_domain
    except email_validator.EmailNotValidError:
        return None
    try:
        info = validate_email_deliverability(ascii_domain, domain, dns_resolver=resolver)
    except email_validator.EmailUndeliverableError as exc:
        return str(exc)
    return None if "unknown-deliverability" in info else ""
