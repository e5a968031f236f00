"""Webhook delivery as the platforms do it: signed, at least once, and — on demand — duplicated,
delayed or dropped (users report all three). Shared by the Graph and LinkedIn stand-ins.

Each stand-in keeps one `WebhookDelivery`; `configure(key, ...)` sets the behaviour for a key (a Page
id, an ad account id) or for every key (key ""). `send(key, body)` returns at once; delivery runs in
tasks the stand-in drains on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import aiohttp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryConfig:
    url: str = ""
    # Share of notifications never delivered at all (0..1).
    drop_rate: float = 0.0
    # Share of notifications delivered more than once, and how many extra copies each gets.
    duplicate_rate: float = 0.0
    duplicates: int = 1
    delay_ms: int = 0
    # Failed deliveries (non-2xx, connection error) are retried this many times in all.
    max_attempts: int = 4
    retry_base_ms: int = 100


@dataclass
class DeliveryStats:
    notifications: int = 0
    dropped: int = 0
    posts: int = 0
    duplicates: int = 0
    failures: int = 0
    delivered: int = 0
    statuses: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "notifications": self.notifications,
            "dropped": self.dropped,
            "posts": self.posts,
            "duplicates": self.duplicates,
            "failures": self.failures,
            "delivered": self.delivered,
            "last_statuses": self.statuses[-20:],
        }


class WebhookDelivery:
    def __init__(self, sign: Callable[[bytes], dict[str, str]], *, seed: int | None = None) -> None:
        self._sign = sign
        self._configs: dict[str, DeliveryConfig] = {"": DeliveryConfig()}
        self._rng = random.Random(seed)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.stats = DeliveryStats()

    def configure(self, key: str = "", **changes: object) -> DeliveryConfig:
        base = self._configs.get(key) or self._configs[""]
        allowed = {k: v for k, v in changes.items() if k in DeliveryConfig.__dataclass_fields__ and v is not None}
        config = replace(base, **allowed)  # type: ignore[arg-type]  # **allowed: field values of several types
        self._configs[key] = config
        return config

    def config_for(self, key: str) -> DeliveryConfig:
        return self._configs.get(key) or self._configs[""]

    def reset(self) -> None:
        self._configs = {"": DeliveryConfig()}
        self.stats = DeliveryStats()

    def send(self, key: str, body: bytes, extra_headers: dict[str, str] | None = None) -> bool:
        """Schedules one notification; False when there is no URL or it was dropped on purpose."""
        config = self.config_for(key)
        if not config.url:
            return False
        self.stats.notifications += 1
        if self._rng.random() < config.drop_rate:
            self.stats.dropped += 1
            return False
        copies = 1 + (config.duplicates if self._rng.random() < config.duplicate_rate else 0)
        self.stats.duplicates += copies - 1
        headers = {"Content-Type": "application/json", **self._sign(body), **(extra_headers or {})}
        for n in range(copies):
            task = asyncio.get_running_loop().create_task(self._deliver(config, body, headers, n))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def _deliver(self, config: DeliveryConfig, body: bytes, headers: dict[str, str], copy: int) -> None:
        if config.delay_ms:
            await asyncio.sleep(config.delay_ms / 1000 * (1 + 0.2 * copy))
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for attempt in range(1, config.max_attempts + 1):
            self.stats.posts += 1
            try:
                async with self._session.post(config.url, data=body, headers=headers) as reply:
                    await reply.read()
                    self.stats.statuses.append(reply.status)
                    if 200 <= reply.status < 300:
                        self.stats.delivered += 1
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("webhook delivery failed", extra={"url": config.url, "error": type(exc).__name__})
            self.stats.failures += 1
            await asyncio.sleep(config.retry_base_ms / 1000 * 2 ** (attempt - 1))

    async def drain(self, seconds: float = 10.0) -> None:
        """Waits (at most `seconds`) for every scheduled delivery (tests and benchmarks)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=seconds)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
