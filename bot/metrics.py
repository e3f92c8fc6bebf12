"""Prometheus metrics, read from the bot's counters at scrape time (one registry per bot,
so several bots in one process — tests — never collide)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from storage.outbox import depth

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import BotApp


class BotMetrics:
    def __init__(self, bot: BotApp) -> None:
        self.bot = bot
        self.registry = CollectorRegistry(auto_describe=True)
        self.callback_seconds = Histogram(
            "dutybot_callback_seconds",
            "Time to answer a card callback",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self._outbox = (0, 0.0)
        self.registry.register(self)

    async def refresh(self) -> None:
        """Database-backed gauges, read before each scrape (collect() must not do I/O)."""
        async with self.bot.sessions() as session:
            count, oldest = await depth(session)
        age = (self.bot.clock.now() - oldest).total_seconds() if oldest else 0.0
        self._outbox = (count, max(0.0, age))

    def collect(self):
        bot = self.bot
        counters = {
            "events_received": ("Verified events and callbacks received", bot.stats["received"]),
            "events_duplicate": ("Deliveries recognised as duplicates", bot.stats["duplicates"]),
            "events_rejected": (
                "Requests refused (bad signature, token or body)",
                bot.stats["rejected"],
            ),
            "events_stale": ("Events dropped as too old", bot.stats["stale"]),
            "events_malformed": (
                "Signed events without Feishu's documented shape (logged, not handled)",
                bot.stats["malformed"],
            ),
            "callbacks": ("Card callbacks answered", bot.stats["callbacks"]),
            "handler_errors": ("Handler failures (retried)", bot.inbox.stats["errors"]),
            "events_processed": ("Events handled", bot.inbox.stats["processed"]),
        }
        gateway = getattr(bot.gateway, "stats", None) or {}
        counters["sends"] = ("Messages and card updates accepted by Feishu", gateway.get("sent", 0))
        counters["send_retries"] = ("Retried Feishu API calls", gateway.get("retries", 0))
        counters["rate_limited"] = (
            "Answers 429/99991400 or 230020 from Feishu",
            gateway.get("rate_limited", 0),
        )
        counters["send_errors"] = (
            "Feishu API calls that failed for good",
            gateway.get("errors", 0),
        )
        for name, (doc, value) in counters.items():
            metric = CounterMetricFamily(f"dutybot_{name}", doc)
            metric.add_metric([], value)
            yield metric
        lost = CounterMetricFamily(
            "dutybot_outbox_undelivered",
            "Messages given up on: expired (too late to matter), payload (refused as "
            "malformed) or permanent (receiver gone, no permission)",
            labels=["kind", "reason"],
        )
        reporter = getattr(bot.outbox, "reporter", None)
        for (kind, reason), n in sorted((reporter.counts if reporter else {}).items()):
            lost.add_metric([kind, reason], n)
        yield lost
        depth_metric = GaugeMetricFamily("dutybot_outbox_depth", "Messages waiting to be sent")
        depth_metric.add_metric([], self._outbox[0])
        yield depth_metric
        age = GaugeMetricFamily(
            "dutybot_outbox_oldest_seconds", "Age of the oldest waiting message"
        )
        age.add_metric([], self._outbox[1])
        yield age
        transport = getattr(bot, "transport", None)
        if transport is not None:
            up = GaugeMetricFamily("dutybot_longconn_connected", "1 when the long connection is up")
            up.add_metric([], 1.0 if transport.state == "connected" else 0.0)
            yield up
            restarts = CounterMetricFamily(
                "dutybot_longconn_restarts", "Long-connection client restarts"
            )
            restarts.add_metric([], transport.restarts)
            yield restarts

    def describe(self):
        return []

    def render(self) -> bytes:
        return generate_latest(self.registry)
