"""Notice rule changes: poll a rules folder (works on every filesystem) and, in a fleet, listen for
"rules changed" notices on Redis pub/sub. Either way the rule files stay the source of truth: a
notice only makes an instance reload its own files."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firewall.errors import FirewallError
from firewall.policy.loader import rule_files

log = logging.getLogger(__name__)


def fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the rule files: changes when any file does."""
    entries = []
    for path in rule_files(folder):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class RulesWatcher:
    """A daemon thread that calls `on_change()` when the folder's rule files change.

    It outlives any error (a file removed between listing and reading, a folder made unreadable):
    the error is logged by type, and the change is tried again at the next poll."""

    def __init__(self, folder: Path, on_change: Callable[[], object], interval: float = 1.0) -> None:
        self.folder = folder
        self.interval = interval
        self._on_change = on_change
        self._stop = threading.Event()
        self._seen = fingerprint(folder)
        self._thread = threading.Thread(target=self._run, name="outguard-rules-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                current = fingerprint(self.folder)
                if current != self._seen:
                    self._on_change()
                    self._seen = current
            except Exception as exc:  # the watcher must outlive a failing poll or reload
                if not failing:  # once per failing streak; the type only (a message may quote a rule)
                    log.error("rules watch: %s failed (%s); retrying every %.1f s",
                              self.folder, type(exc).__name__, self.interval)
                failing = True
            else:
                failing = False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# -- fleet notices ---------------------------------------------------------------------------------

CHANNEL = "outguard:rules"
"""The default pub/sub channel of "rules changed" notices."""
HEARTBEAT = 5.0
"""Seconds of silence after which a notice listener pings Redis, and how long it waits for the
answer before it counts the connection as lost (so a dead link is found within about 10 s)."""
_VERSION = re.compile(r"[0-9a-f]{1,64}")
_SENDER = re.compile(r"[\w.:@/-]{1,200}")


@dataclass(frozen=True)
class Notice:
    """A "rules changed" notice as received (or the listener's own (re)subscription, after which
    the files are reloaded too, since pub/sub keeps nothing for an absent subscriber).

    Anyone who can publish on the channel can send one, so a notice is only ever a cue to reload
    this instance's own files; its fields are checked and only reported.
    """

    version: str | None = None
    """The version the sender deployed (a hash of its rule files), when it said."""
    sender: str | None = None
    """host:pid of the sender, when it said."""
    subscribed: bool = False

    def describe(self, previous: str, current: str) -> str:
        """The `rules_reloaded` message: "old -> new", unchanged or not, and what the notice said."""
        text = f"{previous} -> {current}" + (" (unchanged)" if previous == current else "")
        if self.subscribed:
            return text + "; subscribed to rules notices"
        text += f"; notice from {self.sender or 'an unnamed sender'}"
        if self.version is not None and self.version != current:
            text += f" announced {self.version}, but the files here are {current}"
        return text

    def payload(self) -> str:
        return json.dumps({"version": self.version, "sender": self.sender, "ts": time.time()})

    @classmethod
    def parse(cls, data: bytes | str) -> Notice:
        """A received message; whatever does not look right is dropped, never trusted."""
        try:
            body = json.loads(data)
        except (TypeError, ValueError):
            return cls()
        if not isinstance(body, dict):
            return cls()
        version, sender = body.get("version"), body.get("sender")
        return cls(
            version if isinstance(version, str) and _VERSION.fullmatch(version) else None,
            sender if isinstance(sender, str) and _SENDER.fullmatch(sender) else None,
        )


def publish_notice(url: str, channel: str, version: str) -> int:
    """Tell every subscribed instance that the rules changed; returns how many were listening.

    Raises:
        FirewallError: Redis cannot be reached.
    """
    import redis

    from firewall.events.event import current_instance
    from firewall.events.redis_stream import StreamAddress, redact

    client = StreamAddress.parse(url).client()
    try:
        return int(client.publish(channel, Notice(version, current_instance()).payload()))
    except redis.RedisError as exc:
        raise FirewallError(f"cannot publish the rules notice on {redact(url)}: {type(exc).__name__}: {exc}") from exc
    finally:
        client.close()


class NoticeListener:
    """A daemon thread subscribed to the notices channel; calls `on_notice(notice)` for each notice
    (several waiting at once count as one) and after every (re)subscription. A lost connection is
    retried every 0.25 s to 5 s, logged once per outage; the file watcher, if any, still works.

    A link can also die silently (a half-open TCP connection: a NAT or firewall forgot it, the
    host vanished): reading then just finds nothing. So after `heartbeat` seconds without any
    message the listener pings Redis on the subscription, and a ping unanswered for `heartbeat`
    seconds more counts as a lost connection (resubscribe, and reload as on every subscription).
    """

    def __init__(
        self,
        url: str,
        channel: str,
        on_notice: Callable[[Notice], object],
        *,
        poll: float = 0.2,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        from firewall.events.redis_stream import StreamAddress

        self.url = url
        self.channel = channel
        self.subscribed = threading.Event()
        """Set while subscribed (tests and health checks wait on it)."""
        self._address = StreamAddress.parse(url)  # a bad URL fails here, in the caller
        self._on_notice = on_notice
        self._poll = poll
        self._heartbeat = heartbeat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outguard-rules-notices", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import redis

        from firewall.events.redis_stream import redact

        retry, failing = 0.25, False
        while not self._stop.is_set():
            client = self._address.client()
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                self._confirm(pubsub)
                self.subscribed.set()
                if failing:
                    log.warning("rules notices: subscribed again to %s on %s", self.channel, redact(self.url))
                retry, failing = 0.25, False
                self._deliver(Notice(subscribed=True))
                self._listen(pubsub)
            except redis.RedisError as exc:
                self.subscribed.clear()
                if not failing:
                    log.warning(
                        "rules notices: %s on %s (%s); retrying, files are still watched",
                        self.channel, redact(self.url), type(exc).__name__,
                    )
                failing = True
                self._stop.wait(retry)
                retry = min(5.0, retry * 2)
            finally:
                with contextlib.suppress(redis.RedisError):
                    pubsub.close()
                client.close()
        self.subscribed.clear()

    def _listen(self, pubsub: Any) -> None:
        """Deliver notices until stopped; raise redis.TimeoutError when the link stops answering."""
        import redis

        heard, pinged = time.monotonic(), None  # last message of any kind; the unanswered ping
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=self._poll)
            now = time.monotonic()
            if message is not None:
                heard, pinged = now, None  # any message, a pong included, shows the link is alive
                if message["type"] != "message":
                    continue
                while (more := pubsub.get_message(timeout=0)) is not None:
                    message = more if more["type"] == "message" else message  # a burst is one reload
                self._deliver(Notice.parse(message["data"]))
            elif pinged is None and now - heard >= self._heartbeat:
                pubsub.ping()
                pinged = now
            elif pinged is not None and now - pinged >= self._heartbeat:
                raise redis.TimeoutError(f"no answer to a ping within {self._heartbeat:g} s")

    def _confirm(self, pubsub: Any, within: float = 5.0) -> None:
        """Wait for Redis to confirm the subscription: a connection that was accepted and then cut
        must not count as subscribed (nor trigger the reload that goes with subscribing)."""
        import redis

        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not self._stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message is not None and message["type"] == "subscribe":
                return
        raise redis.TimeoutError("no confirmation of the subscription")

    def _deliver(self, notice: Notice) -> None:
        try:
            self._on_notice(notice)
        except Exception as exc:  # the listener must outlive a failing reload
            log.error("rules notices: handling a notice failed (%s)", type(exc).__name__)
