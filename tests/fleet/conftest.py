"""Fleet fixtures: the real Redis on 127.0.0.1:6379 (db 12; tests fail, never skip, without it),
keys and channels private to each test (so concurrent runs cannot disturb each other), rules
copies for processes, and a TCP proxy that can make Redis slow or unreachable on demand."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import RULES

REDIS = "redis://127.0.0.1:6379/12"


def wait_until(condition: Callable[[], object], timeout: float = 60.0, every: float = 0.05) -> bool:
    """Poll `condition` until it is truthy or `timeout` seconds pass (generous: CI machines are busy)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(every)
    return True


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """A client on db 12; fails the test with a clear message when the server is down."""
    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"the Redis server on 127.0.0.1:6379 is needed (fleet tests never skip): {exc}", pytrace=False)
    yield client
    client.close()


@pytest.fixture
def name() -> str:
    """A unique suffix for this test's keys, channels and principals."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def stream_key(redis_db: redis.Redis, name: str) -> Iterator[str]:
    key = f"test:events:{name}"
    yield key
    redis_db.delete(key)


@pytest.fixture
def stream_uri(stream_key: str) -> str:
    return f"{REDIS}?stream={stream_key}&maxlen=100000"


def lean_rules(target: Path, *, watch_seconds: float = 0.1, extra: str = "") -> Path:
    """A copy of the default rules without the PII detector (processes start in about a second
    instead of six), a budget no busy machine exceeds, a fast watcher, and `extra` settings."""
    shutil.copytree(RULES, target)
    policy = target / "policy.yaml"
    text = policy.read_text()
    for old, new in (
        ("detector_budget_ms: 1000", "detector_budget_ms: 60000"),
        ("watch_seconds: 1.0", f"watch_seconds: {watch_seconds}"),
        ("events: sqlite:///.outguard/events.db", "events: null"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    pii = text.index("  pii:")
    text = text[:pii] + "  pii:\n    enabled: false\n" + text[text.index("\n\n", pii) :]
    policy.write_text(text + extra)
    return target


class Proxy:
    """A TCP proxy in front of Redis: "pass" forwards, "stall" swallows everything (Redis looks
    hung: requests time out), "refuse" closes every connection (Redis looks down)."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 6379)) -> None:
        self.target = target
        self.mode = "pass"
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, db: int = 12) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def set(self, mode: str) -> None:
        self.mode = mode
        if mode == "refuse":
            self._drop_all()

    def close(self) -> None:
        self._closed = True
        self._server.close()
        self._drop_all()

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if self.mode == "pass":
                    sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy(redis_db: redis.Redis) -> Iterator[Proxy]:
    """A proxy in front of the real Redis (which must be up: the fixture fails the test if not)."""
    made = Proxy()
    yield made
    made.close()
