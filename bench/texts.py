"""Deterministic, realistic benchmark texts: assistant prose, code, logs and config files.

`generated_texts()` builds texts of 1-8 KB from a seeded RNG; 30 % of them carry a few
values in the shapes of the default rules (emails, phones, cards, IBANs, IPs, vendor keys).
`transcript_texts()` joins the chunks of every exchange in samples/transcripts/*.jsonl.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = ROOT / "samples" / "transcripts"

_TOPICS = [
    "the deployment pipeline", "your database migration", "the caching layer", "the retry logic",
    "the authentication flow", "the billing service", "the search index", "the message queue",
    "the frontend build", "the nightly batch job", "the rate limiter", "the feature flag rollout",
    "the logging configuration", "the container image", "the API gateway", "the test suite",
]
_VERBS = [
    "reduces", "simplifies", "breaks", "protects", "slows down", "speeds up", "isolates",
    "duplicates", "validates", "depends on", "replaces", "wraps",
]
_OBJECTS = [
    "the request handler", "every background worker", "the connection pool", "the config loader",
    "a single shared lock", "the schema version", "the health check", "the cold start path",
    "the error budget", "each tenant's quota", "the read replica", "the audit trail",
]
_OPENERS = [
    "Sure, here's how I would approach it.", "Good question.", "There are a few things to check.",
    "Short answer: yes, but with a caveat.", "Let's walk through it step by step.",
    "I'd recommend a slightly different approach.", "Here is a summary of what changed.",
]
_CONNECTIVES = [
    "In practice,", "As a result,", "However,", "For example,", "In most setups,",
    "If you need stronger guarantees,", "On the other hand,", "Before you ship this,",
]
_ADVICE = [
    "keep the change behind a feature flag until the metrics look stable",
    "add a regression test that reproduces the original failure",
    "measure the p99 latency before and after the change",
    "document the new behaviour in the runbook so on-call knows what to expect",
    "roll it out to one region first and watch the error rate",
    "make the timeout configurable rather than hard-coding it",
    "log the decision but never the raw payload",
    "prefer an idempotent operation so retries are safe",
]
_NAMES = ["jane", "omar", "li.wei", "priya", "m.garcia", "support", "ops-alerts", "k.novak", "sam", "ana"]
_DOMAINS = ["example.com", "corp-mail.com", "acme.io", "shop.example.org", "mail.fabrikam.net"]
_IDENT = ["user", "order", "invoice", "session", "payload", "result", "config", "client", "item", "retry"]
_FUNCS = ["load", "parse", "fetch", "render", "validate", "normalize", "flush", "compute", "merge", "sync"]
_PATHS = ["/api/v1/orders", "/api/v1/users/me", "/healthz", "/api/v2/search", "/login", "/checkout", "/static/app.js"]
_SERVICES = ["api", "worker", "billing", "auth", "search", "gateway", "scheduler"]


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return f"{rng.choice(_CONNECTIVES)} {rng.choice(_TOPICS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
    if kind < 0.75:
        return f"I'd {rng.choice(_ADVICE)}."
    return (
        f"Changing {rng.choice(_TOPICS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}, "
        f"so {rng.choice(_ADVICE)}."
    )


def _prose(rng: random.Random, size: int) -> str:
    parts = [rng.choice(_OPENERS), "\n\n"]
    length = 0
    while length < size:
        if rng.random() < 0.2:
            items = [f"{i}. {rng.choice(_ADVICE).capitalize()}." for i in range(1, rng.randint(3, 6))]
            block = "\n".join(items) + "\n\n"
        else:
            block = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6))) + "\n\n"
        parts.append(block)
        length += len(block)
    return "".join(parts)


def _code(rng: random.Random, size: int) -> str:
    header = "```python\nimport logging\nimport time\n\nlog = logging.getLogger(__name__)\n\n"
    parts = ["Here is an implementation:\n\n" + header]
    length = 0
    while length < size:
        fn, a, b = rng.choice(_FUNCS), rng.choice(_IDENT), rng.choice(_IDENT)
        n = rng.randint(2, 9)
        block = (
            f"def {fn}_{a}({a}, {b}=None, retries={n}):\n"
            f'    """{rng.choice(_ADVICE).capitalize()}."""\n'
            f"    for attempt in range(retries):\n"
            f"        try:\n"
            f"            {b} = {rng.choice(_FUNCS)}({a}, timeout={rng.randint(1, 30)})\n"
            f"            if {b} is not None and len({b}) > {rng.randint(0, 64)}:\n"
            f"                return {{'{a}': {a}, '{b}': {b}, 'attempt': attempt}}\n"
            f"        except (TimeoutError, ConnectionError) as exc:\n"
            f'            log.warning("{fn} failed on attempt %d: %s", attempt, exc)\n'
            f"            time.sleep(0.{rng.randint(1, 9)} * 2 ** attempt)\n"
            f"    raise RuntimeError(f\"{fn}_{a} gave up after {{retries}} attempts\")\n\n\n"
        )
        parts.append(block)
        length += len(block)
    parts.append("```\n\nThe backoff doubles on every attempt, so the worst case stays bounded.\n")
    return "".join(parts)


def _logs(rng: random.Random, size: int) -> str:
    parts = ["Here are the relevant log lines:\n\n```\n"]
    length = 0
    minute, second = rng.randint(0, 50), 0
    while length < size:
        second += rng.randint(0, 7)
        minute, second = minute + second // 60, second % 60
        level = rng.choices(["INFO", "DEBUG", "WARN", "ERROR"], [6, 3, 2, 1])[0]
        rid = "".join(rng.choices("0123456789abcdef", k=12))
        line = (
            f"2024-05-{rng.randint(10, 28):02d}T14:{minute % 60:02d}:{second:02d}.{rng.randint(0, 999):03d}Z "
            f"{level:<5} {rng.choice(_SERVICES)}[{rng.randint(1000, 9999)}] req={rid} "
            f"{rng.choice(['GET', 'POST', 'PUT'])} {rng.choice(_PATHS)} "
            f"status={rng.choice([200, 200, 200, 201, 204, 304, 404, 429, 500, 503])} "
            f"dur_ms={rng.randint(1, 2500)} bytes={rng.randint(0, 90000)}\n"
        )
        parts.append(line)
        length += len(line)
    parts.append("```\n\nThe 5xx responses cluster right after the deploy, which points at the new build.\n")
    return "".join(parts)


def _config(rng: random.Random, size: int) -> str:
    parts = ["Here's a config you can start from:\n\n```yaml\n"]
    length = 0
    while length < size:
        svc = rng.choice(_SERVICES)
        block = (
            f"{svc}-{rng.randint(1, 99)}:\n"
            f"  image: registry.internal/{svc}:{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}\n"
            f"  replicas: {rng.randint(1, 12)}\n"
            f"  env:\n"
            f"    LOG_LEVEL: {rng.choice(['info', 'debug', 'warn'])}\n"
            f"    TIMEOUT_SECONDS: \"{rng.randint(5, 120)}\"\n"
            f"    FEATURE_{rng.choice(_IDENT).upper()}: \"{rng.choice(['true', 'false'])}\"\n"
            f"  resources:\n"
            f"    limits: {{cpu: \"{rng.randint(1, 8)}\", memory: {rng.choice([256, 512, 1024, 2048])}Mi}}\n"
            f"  healthcheck: {{path: {rng.choice(_PATHS)}, interval: {rng.randint(5, 60)}s}}\n"
        )
        parts.append(block)
        length += len(block)
    parts.append("```\n\nAdjust the replica counts to your traffic; the limits are conservative.\n")
    return "".join(parts)


def _luhn_card(rng: random.Random) -> str:
    digits = [int(rng.choice("45"))] + [rng.randint(0, 9) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit will sit to the right
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    groups = [s[i : i + 4] for i in range(0, 16, 4)]
    return rng.choice([s, " ".join(groups), "-".join(groups)])


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _sensitive(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return f"You can reach {rng.choice(_NAMES)}@{rng.choice(_DOMAINS)} for access."
    if kind == 1:
        call = f"Call +1 415 555 0{rng.randint(100, 199)} after 5pm."
        return rng.choice([call, f"Phone: (415) 555-0{rng.randint(100, 199)}."])
    if kind == 2:
        return f"The card on file is {_luhn_card(rng)}."
    if kind == 3:
        return f"STRIPE_SECRET_KEY=sk_live_{_alnum(rng, 24)}"
    if kind == 4:
        return f"export GITHUB_TOKEN=ghp_{_alnum(rng, 36)}"
    if kind == 5:
        return f"aws_access_key_id = AKIA{_alnum(rng, 16, string.ascii_uppercase + string.digits)}"
    if kind == 6:
        return f"Refund to IBAN {rng.choice(['GB82 WEST 1234 5698 7654 32', 'DE89370400440532013000'])}."
    if kind == 7:
        return f"The primary is at 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} on port 5432."
    return f"OPENAI_API_KEY=sk-proj-{_alnum(rng, 48)}"


def _sprinkle(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        lines.insert(rng.randrange(1, len(lines)), _sensitive(rng))
    return "\n".join(lines)


def generated_texts(count: int = 50, seed: int = 20240517) -> list[tuple[str, str]]:
    """(name, text) pairs, 1-8 KB each, the same for every call with the same arguments."""
    rng = random.Random(seed)
    kinds = [("prose", _prose), ("code", _code), ("logs", _logs), ("config", _config)]
    texts = []
    for i in range(count):
        kind, build = kinds[i % len(kinds)]
        text = build(rng, rng.randint(1024, 7200))
        name = f"{kind}-{i:02d}"
        if (i * 7) % 10 < 3:  # 3 texts in every 10, spread over the kinds; same for any count
            text, name = _sprinkle(rng, text), name + "+pii"
        texts.append((name, text))
    return texts


def transcript_texts() -> list[tuple[str, str]]:
    """(id, joined chunks) for every exchange in samples/transcripts/*.jsonl."""
    texts = []
    for path in sorted(TRANSCRIPTS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts.append((f"transcript:{record['id']}", "".join(record["chunks"])))
    return texts
