"""Firewall: the public face. Each method is a few lines over Scanner, StreamScanner and events."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from firewall.errors import FirewallError, QuotaExceeded, RuleError
from firewall.events.event import Event
from firewall.events.sinks import Sink, sink_from_uri
from firewall.events.writer import EventWriter
from firewall.model import Verdict
from firewall.policy.loader import load_policy
from firewall.policy.policy import Policy
from firewall.scanner import Scanner
from firewall.signals import NearDuplicates, PromptCheck, Signal, corpus_prefix, degenerate_output, divergence
from firewall.watch import CHANNEL, Notice, NoticeListener, RulesWatcher

Listener = Callable[[Event], object]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Active:
    """The policy and the scanner built from it, swapped together in one assignment."""

    policy: Policy
    scanner: Scanner

    @cached_property
    def hardening(self) -> Any:
        from firewall.hardening import Hardening

        return Hardening.from_settings(self.policy.hardening)


class Firewall:
    """Scan model output under a policy; emit an event for every decision.

    Args:
        policy: a loaded Policy (see `Firewall.from_rules`).
        events: where events go: a sink URI, a Sink, None for the policy's `events:` setting,
            or False for nowhere.
        key: the key for hashes of findings (default: the install key).
    """

    def __init__(
        self,
        policy: Policy,
        *,
        events: str | Sink | Literal[False] | None = None,
        key: bytes | None = None,
    ) -> None:
        self._key = key
        self._active = _Active(policy, Scanner(policy, key=key))
        self._reload_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._watcher: RulesWatcher | None = None
        self._notices: NoticeListener | None = None
        self.last_reload_error: RuleError | None = None
        """Why the latest reload was refused (None once one succeeds)."""
        self._floods = NearDuplicates()
        self._quota = _quota(policy)
        if events is None:
            events = policy.events or False
        sink = sink_from_uri(events) if isinstance(events, str) else events
        self._writer = EventWriter(sink, rules_version=lambda: self.rules_version) if sink else None

    @classmethod
    def from_rules(cls, folder: str | Path = "rules", *, watch: bool = False, **kwargs: Any) -> Firewall:
        """Load the policy in `folder`; with `watch=True`, reload it whenever its files change."""
        firewall = cls(load_policy(folder), **kwargs)
        if watch:
            firewall.watch()
        return firewall

    @property
    def policy(self) -> Policy:
        return self._active.policy

    @property
    def rules_version(self) -> str:
        return self._active.policy.version

    # -- scanning faces -------------------------------------------------------------------------

    def scan(self, text: str, *, prompt: str | None = None, **context: Any) -> Verdict:
        """Scan a whole response. `context` (principal, model, source) goes into the event."""
        verdict = self._scan(text, prompt, context)
        self._account(verdict, context)
        return verdict

    async def ascan(self, text: str, *, prompt: str | None = None, **context: Any) -> Verdict:
        """`scan` for async callers: detection runs in the firewall's worker threads (NER is CPU
        work; the event loop keeps serving), the quota bookkeeping goes through `limits.aio`."""
        verdict = await self._off_loop(self._scan, text, prompt, context)
        await self._aaccount(verdict, context)
        return verdict

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._workers, fn, *args)

    @cached_property
    def _workers(self) -> ThreadPoolExecutor:
        """Threads for the async faces' detection, bounded (NER itself runs one call at a time)."""
        return ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="outguard-scan")

    def stream(
        self,
        chunks: Iterable[str],
        *,
        prompt: str | None = None,
        on_verdict: Callable[[Verdict], object] | None = None,
        **context: Any,
    ) -> Iterator[str]:
        """Yield safe text as chunks arrive; the concatenation equals `scan()` of the whole.

        On a block the refusal is yielded and the upstream iterator is closed. If the consumer
        stops early, held-back text is never released. A stream that ends early (the upstream
        raised, the consumer closed it) is recorded with status "aborted" and says why.
        """
        run = _StreamRun(self, prompt, context, on_verdict)
        try:
            for chunk in chunks:
                if safe := run.feed(chunk):
                    yield safe
                if run.stopped:
                    break
            else:
                if safe := run.finish():
                    yield safe
        except BaseException as exc:
            run.ended_by = type(exc).__name__
            raise
        finally:
            _close(chunks)
            self._account(run.end(), context)

    async def astream(
        self,
        chunks: AsyncIterable[str],
        *,
        prompt: str | None = None,
        on_verdict: Callable[[Verdict], object] | None = None,
        **context: Any,
    ) -> AsyncIterator[str]:
        """The async twin of `stream`."""
        run = _StreamRun(self, prompt, context, on_verdict)
        try:
            async for chunk in chunks:
                safe = await self._off_loop(run.feed, chunk) if run.scans(chunk) else run.feed(chunk)
                if safe:
                    yield safe
                if run.stopped:
                    break
            else:
                if safe := await self._off_loop(run.finish):
                    yield safe
        except BaseException as exc:
            run.ended_by = type(exc).__name__
            raise
        finally:
            await _aclose(chunks)
            await self._aaccount(run.end(), context)

    def prefetch(self, texts: list[str]) -> None:
        """Warm detectors that batch (PII runs spaCy's nlp.pipe) for texts about to be scanned."""
        self._active.scanner.prefetch(texts)

    def guard(self, fn: Callable[..., Any] | None = None, **context: Any) -> Any:
        """Decorate a def / async def / generator / async generator so its output is scanned.

        Use as `@fw.guard` or `@fw.guard(principal="svc-a", model="m")`. A string first argument
        is recorded (redacted) as the prompt.
        """
        from firewall.wrappers import guard

        if fn is None:
            return lambda f: guard(self, f, **context)
        return guard(self, fn, **context)

    def wrap_openai(self, client: Any, **options: Any) -> Any:
        """Return `client` (an `openai.OpenAI` or `AsyncOpenAI`) with its completions guarded."""
        from firewall.wrappers.openai import wrap_openai

        return wrap_openai(self, client, **options)

    def wrap_pipeline(self, pipe: Any, **options: Any) -> Any:
        """Return `pipe` (a transformers text-generation pipeline) guarded: same call, same records;
        streamers get only scanned text."""
        from firewall.wrappers.hf import wrap_pipeline

        return wrap_pipeline(self, pipe, **options)

    def wrap_generate(self, model: Any, tokenizer: Any, **options: Any) -> Any:
        """Return a guarded stand-in for `model.generate` (same arguments; returns the ids of the scanned text)."""
        from firewall.wrappers.hf import wrap_generate

        return wrap_generate(self, model, tokenizer, **options)

    def check_prompt(self, prompt: str, **context: Any) -> PromptCheck:
        """Admit a request: quotas first (raises QuotaExceeded), then extraction signals
        (divergence, protected-corpus prefixes, floods of near-duplicates), whose weights count as
        violations against the principal. Suspicious prompts and refusals become events."""
        principal, model = context.get("principal"), context.get("model")
        if self._quota is not None and principal is not None:
            try:
                self._quota.check_request(principal, model)
            except QuotaExceeded as exc:
                self._refused(exc, context)
                raise
        check = self._signals(prompt, context)
        if self._quota is not None and principal is not None and (weight := self._weight(check.signals)):
            self._quota.record_violations(principal, weight, model)
        return check

    def harden(self, logprobs: Any) -> Any:
        """Apply the policy's hardening (strip, top-k, round or Laplace noise) to the log-probabilities
        or confidence scores a response carries (OpenAI `logprobs`, legacy completions, float lists)."""
        from firewall.hardening import harden_logprobs

        return harden_logprobs(logprobs, self._active.hardening)

    async def acheck_prompt(self, prompt: str, **context: Any) -> PromptCheck:
        """`check_prompt` for async callers (quotas through `limits.aio`)."""
        principal, model = context.get("principal"), context.get("model")
        if self._quota is not None and principal is not None:
            try:
                await self._quota.acheck_request(principal, model)
            except QuotaExceeded as exc:
                self._refused(exc, context)
                raise
        check = self._signals(prompt, context)
        if self._quota is not None and principal is not None and (weight := self._weight(check.signals)):
            await self._quota.arecord_violations(principal, weight, model)
        return check

    def _signals(self, prompt: str, context: dict[str, Any]) -> PromptCheck:
        active = self._active
        # A corpus detector in shadow mode must not weigh on quotas through prompt signals either.
        shadow = active.policy.shadow_detectors
        corpus = [d for d in active.scanner.detectors if d.name == "corpus" and d.name not in shadow]
        findings = active.scanner.detect(prompt, 0, corpus).findings if corpus else []
        flood = self._floods.observe(str(context.get("principal")), prompt) if context.get("principal") else None
        signals = tuple(s for s in (divergence(prompt), corpus_prefix(findings), flood) if s is not None)
        check = PromptCheck(signals, tuple(findings))
        if signals and (self._writer is not None or self._listeners):

            def build() -> Event:
                return Event(
                    kind="prompt",
                    prompt=active.scanner.scan(prompt).record_text(),
                    rules_version=active.policy.version,
                    message="; ".join(f"{s.kind}: {s.detail}" for s in signals),
                    **context,
                )

            self._publish_job(build)
        return check

    def _weight(self, signals: Iterable[Signal]) -> int:
        weights = self._active.policy.signals
        return round(sum(weights.get(s.kind, s.weight) for s in signals))

    def report_refusal(self, reason: str, **context: Any) -> None:
        """Record a request a wrapper refused before the model ran (e.g. a scoring request)."""
        self._publish(
            Event(kind="refused", action="block", rules_version=self.rules_version, message=reason, **context)
        )

    def _refused(self, exc: QuotaExceeded, context: dict[str, Any]) -> None:
        self._publish(
            Event(kind="quota", action="block", rules_version=self.rules_version, message=str(exc), **context)
        )

    def _account(self, verdict: Verdict, context: dict[str, Any]) -> None:
        """After an output: debit its tokens and count its leaks as violations. Never raises: the
        output exists (the principal's next request is what the quota refuses), so a refusal and
        a failing quota storage are recorded as events instead."""
        if (principal := self._accountable(context)) is None:
            return
        model, weight = context.get("model"), self._output_weight(verdict)
        try:
            try:
                self._quota.debit_tokens(principal, count_tokens(verdict.text), model)
            except QuotaExceeded as exc:
                self._refused(exc, context)
            if weight:
                self._quota.record_violations(principal, weight, model)
        except FirewallError as exc:
            self._accounting_failed(exc, context)

    async def _aaccount(self, verdict: Verdict, context: dict[str, Any]) -> None:
        """`_account` over the quota's async faces: a slow Redis never holds the event loop."""
        if (principal := self._accountable(context)) is None:
            return
        model, weight = context.get("model"), self._output_weight(verdict)
        try:
            try:
                await self._quota.adebit_tokens(principal, count_tokens(verdict.text), model)
            except QuotaExceeded as exc:
                self._refused(exc, context)
            if weight:
                await self._quota.arecord_violations(principal, weight, model)
        except FirewallError as exc:
            self._accounting_failed(exc, context)

    def _accountable(self, context: dict[str, Any]) -> Any:
        return context.get("principal") if self._quota is not None else None

    def _output_weight(self, verdict: Verdict) -> int:
        # One signal per leaked label, not per finding: a regurgitated passage is many overlapping
        # PROTECTED findings but one offence.
        signals = [Signal(label, "in the output") for label in sorted({f.label for f in verdict.findings})]
        if (degenerate := degenerate_output(verdict.text)) is not None:
            signals.append(degenerate)
        return self._weight(s for s in signals if s.kind in self._active.policy.signals)

    def _accounting_failed(self, exc: FirewallError, context: dict[str, Any]) -> None:
        # The cause's type only: the error's text names the storage URI, which may hold a password.
        cause = getattr(exc.__cause__, "storage_error", exc.__cause__) or exc
        message = f"quota storage failed ({type(cause).__name__}): this output's tokens and violations were not counted"
        log.warning("quotas: %s", message)
        self._publish(Event(kind="quota_error", rules_version=self.rules_version, message=message, **context))

    # -- rules ------------------------------------------------------------------------------------

    def reload(self, *, notice: Notice | None = None) -> bool:
        """Re-read the rules folder; swap to the new policy, or keep the old one and report why.

        A reload on a fleet `notice` is always reported (rules_reloaded even when unchanged), so
        every instance answers the notice in the events."""
        with self._reload_lock:
            folder = self._active.policy.folder
            try:
                policy = load_policy(folder)
            except RuleError as exc:
                self.last_reload_error = exc
                self._publish(Event(kind="rules_rejected", rules_version=self.rules_version, message=_capped(exc)))
                return False
            self.last_reload_error = None
            previous = self.rules_version
            if policy.version != previous:
                self._active = _Active(policy, Scanner(policy, key=self._key))
            elif notice is None:
                return True
            message = notice.describe(previous, policy.version) if notice else f"{previous} -> {policy.version}"
            self._publish(Event(kind="rules_reloaded", rules_version=policy.version, message=message))
            return True

    def watch(self, interval: float | None = None, *, notices: str | None = None, channel: str | None = None) -> None:
        """Reload whenever a rule file changes (a polling thread) and, in a fleet, whenever a notice
        arrives on Redis pub/sub: the policy's `fleet:` block, or `notices` (a Redis URL) and
        `channel` here. `close()` stops both."""
        policy = self._active.policy
        if self._watcher is None:
            self._watcher = RulesWatcher(policy.folder, self.reload, interval or policy.watch_seconds)
        url = notices or (policy.fleet.notices if policy.fleet else None)
        if url and self._notices is None:
            channel = channel or (policy.fleet.channel if policy.fleet else CHANNEL)
            self._notices = NoticeListener(url, channel, lambda notice: self.reload(notice=notice))

    # -- events -----------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(event)` synchronously for every event (tests, metrics)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    @property
    def events_dropped(self) -> int:
        """Events lost to a full queue or a failing sink since start."""
        return self._writer.dropped if self._writer else 0

    def flush(self) -> None:
        """Wait until every event so far is written."""
        if self._writer:
            self._writer.flush()

    def close(self, timeout: float = 10.0) -> None:
        """Stop watching, write pending events and close the sink, waiting at most about `timeout`
        seconds for a sink that hangs (its unwritten events are then lost)."""
        if self._notices:
            self._notices.stop()
            self._notices = None
        if self._watcher:
            self._watcher.stop()
            self._watcher = None
        if self._writer:
            writer, self._writer = self._writer, None
            writer.close(timeout)
        if self._quota is not None:
            self._quota.close()
        if "_workers" in self.__dict__:
            self.__dict__.pop("_workers").shutdown(wait=False)

    async def aclose(self) -> None:
        """`close` for async callers: also closes the async quota storage."""
        if self._quota is not None:
            await self._quota.aclose()
        self.close()

    def __enter__(self) -> Firewall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _scan(self, text: str, prompt: str | None, context: dict[str, Any]) -> Verdict:
        active = self._active
        began = time.perf_counter()
        verdict = active.scanner.scan(text, prompt)
        self._emit(active, verdict, prompt, (time.perf_counter() - began) * 1000, context)
        return verdict

    def _emit(
        self, active: _Active, verdict: Verdict, prompt: str | None, latency_ms: float, context: dict[str, Any]
    ) -> None:
        if self._writer is None and not self._listeners:
            return

        def build() -> Event:
            safe_prompt = active.scanner.scan(prompt).record_text() if prompt is not None else None
            return Event.from_verdict(verdict, prompt=safe_prompt, latency_ms=round(latency_ms, 3), **context)

        self._publish_job(build)

    def _publish(self, event: Event) -> None:
        self._publish_job(lambda: event)

    def _publish_job(self, build: Callable[[], Event]) -> None:
        writer = self._writer  # once: close() may set it to None meanwhile, from another thread
        if writer is not None:
            writer.submit(build)
        if self._listeners:
            event = build()
            for listener in self._listeners:
                listener(event)


class _StreamRun:
    """One stream through the firewall, shared by `stream` and `astream` (which differ only in how
    they iterate): the incremental scanner, the time spent in it, and how the stream ended."""

    def __init__(
        self,
        firewall: Firewall,
        prompt: str | None,
        context: dict[str, Any],
        on_verdict: Callable[[Verdict], object] | None,
    ) -> None:
        self._firewall = firewall
        self._active = firewall._active
        self._scanner = self._active.scanner.incremental(prompt)
        self._prompt = prompt
        self._context = context
        self._on_verdict = on_verdict
        self._spent = 0.0
        self._finished = False
        self.ended_by: str | None = None
        """The type of the exception that ended the stream, if one did (an upstream error,
        GeneratorExit when the consumer closed it, CancelledError)."""

    @property
    def stopped(self) -> bool:
        return self._scanner.stopped

    def scans(self, chunk: str) -> bool:
        return self._scanner.scans(chunk)

    def feed(self, chunk: str) -> str:
        began = time.perf_counter()
        try:
            return self._scanner.feed(chunk)
        finally:
            self._spent += time.perf_counter() - began

    def finish(self) -> str:
        began = time.perf_counter()
        try:
            safe = self._scanner.finish()
        finally:
            self._spent += time.perf_counter() - began
        self._finished = True
        return safe

    def end(self) -> Verdict:
        """Record the stream's verdict (status "aborted" if it ended before its last chunk was
        decided, with the reason in the event's message) and hand it to `on_verdict`."""
        verdict, context = self._scanner.verdict(), {"chunks": self._scanner.chunks, **self._context}
        if self.ended_by is not None and not (self._finished or self.stopped):
            if verdict.status == "scanned":  # a detector failure says more, and stays
                verdict = dataclasses.replace(verdict, status="aborted")
            context["message"] = f"stream ended early: {self.ended_by}"
        self._firewall._emit(self._active, verdict, self._prompt, self._spent * 1000, context)
        if self._on_verdict is not None:
            self._on_verdict(verdict)
        return verdict


def _quota(policy: Policy) -> Any:
    if policy.quotas is None:
        return None
    from firewall.quota import Quota

    return Quota(policy.quotas)


def _capped(error: RuleError, most: int = 20) -> str:
    """The loader's error text for a rules_rejected event, at most `most` problems of it."""
    lines = [str(p) for p in error.problems]
    more = f"\n... and {len(lines) - most} more problems" if len(lines) > most else ""
    return "\n".join(lines[:most]) + more


def count_tokens(text: str) -> int:
    """Tokens of an output, approximated as words and punctuation marks (about 1.3 per word of
    English is what BPE tokenizers give; quotas need a stable count, not the vendor's exact one)."""
    return len(_TOKEN.findall(text))


_TOKEN = re.compile(r"\w+|[^\w\s]")


def _close(chunks: object) -> None:
    close = getattr(chunks, "close", None)
    if callable(close):
        close()


async def _aclose(chunks: object) -> None:
    aclose = getattr(chunks, "aclose", None)
    if callable(aclose):
        await aclose()
