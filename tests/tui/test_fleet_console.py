"""The console on a fleet's Redis stream (`outguard tui --events redis://...`): every instance's
events, their rules versions, dropped counts and shadow hits (the real Redis; never skipped)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from firewall.events.event import Event
from firewall.events.redis_stream import RedisStreamSink
from tests.conftest import SAMPLES
from tests.tui.conftest import finding, verdict, wait_until
from tui.app import OutguardApp
from tui.widgets.table import EventTable, cell

pytestmark = pytest.mark.redis


async def test_console_follows_a_redis_stream_with_instances_drops_and_shadow_hits(
    rules_dir: Path, tmp_path: Path
) -> None:
    stream = f"outguard:test-tui-{uuid.uuid4().hex[:8]}"
    uri = f"redis://:s3cret-pass@127.0.0.1:6379/10?stream={stream}"
    plain = f"redis://127.0.0.1:6379/10?stream={stream}"  # the test server's default user takes any password (nopass)
    sink = RedisStreamSink.from_uri(plain)
    now = time.time()
    sink.write([
        verdict(1, instance="web-1:11", version="aaaa1111", ts=now),
        verdict(2, instance="web-2:22", version="bbbb2222", ts=now,
                findings=(finding("ORDER", 0, 5, rule="order-numbers", shadow=True),)),
        Event(kind="events_dropped", ts=now, instance="web-2:22", dropped=7, message="7 events dropped"),
    ])
    app = OutguardApp(events=uri, rules=rules_dir, samples=SAMPLES / "transcripts", journal=tmp_path / "j.jsonl")
    try:
        async with app.run_test(size=(160, 36)) as pilot:
            await wait_until(pilot, lambda: app.traffic.total == 3)
            status = app.screen.query_one("#status")
            await wait_until(pilot, lambda: "dropped 7" in str(status.render()))
            shown = str(status.render())
            assert "s3cret-pass" not in shown and ":***@127.0.0.1" in shown
            assert "vaaaa111×1 vbbbb222×1" in shown
            rows = app.screen.query_one(EventTable).rows
            assert cell(rows[1], "labels") == "(1 shadow)" and rows[1].shadow == ("order-numbers",)
            sink.write([verdict(3, instance="web-1:11", version="aaaa1111", ts=time.time())])
            await wait_until(pilot, lambda: app.traffic.total == 4)
    finally:
        redis.Redis.from_url("redis://127.0.0.1:6379/10").delete(stream)
        sink.close()
