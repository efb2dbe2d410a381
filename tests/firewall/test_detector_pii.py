"""The PII detector (Presidio + spaCy NER): what it redacts through the whole pipeline, what it must
leave alone, how it honours its policy settings, long and streamed outputs, and that it never
touches the network.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import socket
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firewall import Firewall, Scanner
from firewall.detectors.pii import PiiDetector, PiiSettings, units
from firewall.policy import Policy
from tests.conftest import KEY, ROOT

NER_LABELS = {"PERSON", "LOCATION", "NRP"}


def spans(detector: PiiDetector, text: str) -> list[tuple[str, str]]:
    return [(f.label, text[f.start : f.end]) for f in detector.find(text)]


def shown(text: str, findings) -> list[tuple[str, str]]:
    return [(f.label, text[f.start : f.end]) for f in findings]


# -- realistic answers, whole pipeline -------------------------------------------------------------

ANSWERS = [
    pytest.param(
        "Here's the itinerary for Maria Gonzalez: she lands in Barcelona on Friday at 14:05 and "
        "stays two nights before taking the train to Lisbon. Her confirmation was sent to "
        "maria.gonzalez@corpmail.net, and the hotel can reach her on +44 20 7946 0958.",
        {"PERSON", "LOCATION", "EMAIL", "PHONE"},
        ["Maria Gonzalez", "Gonzalez", "Barcelona", "Lisbon", "maria.gonzalez@corpmail.net", "7946"],
        id="travel-plan",
    ),
    pytest.param(
        "I've checked the account of Jonas Weber. The refund of 120 EUR went back to the card "
        "4111 1111 1111 1111, and the remaining balance will be transferred to his IBAN "
        "DE89 3704 0044 0532 0130 00 within three business days.",
        {"PERSON", "CREDIT_CARD", "IBAN"},
        ["Jonas Weber", "Weber", "4111 1111 1111", "DE89 3704", "0532 0130"],
        id="billing-support",
    ),
    pytest.param(
        "HR note: Priya Raman (SSN 536-22-8725) starts on Monday in our Denver office. Please send "
        "the contract to priya.raman@corpmail.net and call her at (415) 555-0198 if anything is "
        "missing.",
        {"PERSON", "SSN", "LOCATION", "EMAIL", "PHONE"},
        ["Priya Raman", "Raman", "536-22", "Denver", "priya.raman@corpmail.net", "555-0198"],
        id="hr-note",
    ),
    pytest.param(
        "Sure, here is the payroll record you asked for:\n- Name: David Okafor\n"
        "- SSN: 412-67-3390\n- Card on file: 5555 5555 5555 4444\n"
        "- IBAN: GB82 WEST 1234 5698 7654 32\n",
        {"PERSON", "SSN", "CREDIT_CARD", "IBAN"},
        ["David Okafor", "Okafor", "412-67", "5555 5555 5555", "GB82 WEST", "1234 5698"],
        id="payroll-record",
    ),
]


@pytest.mark.parametrize(("text", "labels", "raw"), ANSWERS)
def test_realistic_answers_are_redacted_by_the_whole_pipeline(
    fw: Firewall, text: str, labels: set[str], raw: list[str]
) -> None:
    verdict = fw.scan(text)

    assert verdict.status == "scanned"
    assert verdict.action == "redact"
    assert set(verdict.labels) == labels, shown(text, verdict.findings)
    for value in raw:
        assert value not in verdict.text, (value, verdict.text)


# -- hard negatives: tech tokens are not people or places ------------------------------------------

NEGATIVES = [
    pytest.param(
        "```python\nimport os\ntoken = os.environ['SLACK_BOT_TOKEN']\n"
        "client = WebClient(token=token)\n```",
        id="code-env",
    ),
    pytest.param("Export SLACK_BOT_TOKEN before starting the bot.", id="env-var"),
    pytest.param("SLACK_BOT_TOKEN=xoxb-placeholder", id="env-assignment"),
    pytest.param("git reset --hard origin/main", id="cli-git"),
    pytest.param("To drop the commit, run git reset --hard HEAD~1 and push again.", id="cli-git-prose"),
    pytest.param("Create an EKS cluster in eu-west-1.", id="aws-region"),
    pytest.param("Region eu-west-1", id="region-label"),
    pytest.param("Store the build artifacts in S3 and run the workers on EKS.", id="s3-eks"),
    pytest.param("S3 Glacier is cheaper for archives.", id="s3-glacier"),
    pytest.param("Java is verbose.", id="allow-java"),
    pytest.param(
        "Kubernetes 1.29 works well with Terraform 1.7, and the service itself is written in Java 21.",
        id="allow-products",
    ),
    pytest.param("Use Postgres with Redis as a cache, behind Docker.", id="allow-infra"),
    pytest.param("Use Django or Flask.", id="allow-frameworks"),
    pytest.param("node v18.17.1", id="version-node"),
    pytest.param(
        "Upgrade from v2.3.1 to v2.4.0-rc.2 (build 20240115.3) before running the migration.",
        id="versions",
    ),
    pytest.param("def get_user(user_id: int) -> User:", id="python-def"),
    pytest.param(
        "2024-05-12T10:32:01Z ERROR api-gateway-7f9c request_id=ab12cd timeout after 30000ms "
        "upstream=payments-svc",
        id="log-structured",
    ),
    pytest.param(
        "[2024-03-01 12:00:00] WARN  HikariPool-1 - Connection is not available, request timed out "
        "after 30000ms.",
        id="log-java",
    ),
    pytest.param(
        "Set AWS_REGION=us-east-1 and DATABASE_URL=postgres://localhost:5432/app in your .env file.",
        id="dotenv",
    ),
    pytest.param(
        "Use kubectl get pods -n kube-system, then kubectl describe pod coredns-5d78c9869d-abcde.",
        id="kubectl",
    ),
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_tech_tokens_and_hard_negatives_are_not_people_or_places(fw: Firewall, text: str) -> None:
    """Many of these are PERSON/LOCATION to the raw NER model (SLACK_BOT_TOKEN, eu-west-1,
    git reset --hard, Java, Redis, Flask, node v18.17.1, get_user(user_id, ...): the detector's
    name filter and the policy's allow list must drop them."""
    verdict = fw.scan(text)

    assert verdict.status == "scanned"
    assert not [f for f in verdict.findings if f.label in NER_LABELS], shown(text, verdict.findings)


# -- policy settings -------------------------------------------------------------------------------

TWO_PEOPLE = "Please forward the invoice to Maria Gonzalez today, and copy Jonas Weber."


def test_allow_list_suppresses_exactly_the_allowed_term() -> None:
    assert ("PERSON", "Maria Gonzalez") in spans(PiiDetector(PiiSettings()), TWO_PEOPLE)

    found = spans(PiiDetector(PiiSettings(allow=["Maria Gonzalez"])), TWO_PEOPLE)

    assert ("PERSON", "Maria Gonzalez") not in found
    assert ("PERSON", "Jonas Weber") in found  # only the allowed term, not the whole detector


def test_deny_list_flags_the_denied_term() -> None:
    text = "Please escalate the ticket to Zorblax before noon."
    assert ("PERSON", "Zorblax") not in spans(PiiDetector(PiiSettings()), text)

    found = spans(PiiDetector(PiiSettings(deny={"PERSON": ["Zorblax"]})), text)

    assert ("PERSON", "Zorblax") in found


def test_score_threshold_suppresses_ner_hits_but_not_deny_terms() -> None:
    text = "Maria Gonzalez met Zorblax in Barcelona."
    baseline = PiiDetector(PiiSettings()).find(text)
    assert {(f.label, f.score) for f in baseline} >= {("PERSON", 0.85), ("LOCATION", 0.85)}

    strict = PiiDetector(PiiSettings(score_threshold=0.99, deny={"PERSON": ["Zorblax"]}))

    assert spans(strict, text) == [("PERSON", "Zorblax")]  # the deny list scores 1.0


@pytest.mark.parametrize("context", [(), ("payroll",)], ids=["recognizer-context", "policy-context"])
def test_context_words_raise_the_score_of_a_nearby_finding(context: tuple[str, ...]) -> None:
    """Presidio's context enhancement compares lemmas: a pipeline without its lemmatizer silently
    ignores both the recognizers' own context words (ssn, social) and the policy's `context`."""
    detector = PiiDetector(PiiSettings(context=context))
    assert [f.score for f in detector.find("Reference 536-22-8725.")] == [0.5]

    near = detector.find("Payroll record: social security number (SSN) 536-22-8725.")

    assert [f.label for f in near] == ["SSN"] and near[0].score > 0.5, near


# -- models: no hard-coded "en" --------------------------------------------------------------------


def test_missing_model_warns_and_keeps_the_pattern_recognizers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A fresh name: engines are cached per (language, model) and warn once, when first built.
    model = f"no_such_model_xyz_{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.WARNING, logger="firewall.detectors.pii"):
        detector = PiiDetector(PiiSettings(models={"en": model}))

    assert detector.ner is False
    warnings = [r for r in caplog.records if r.name == "firewall.detectors.pii" and r.levelno == logging.WARNING]
    assert [r for r in warnings if model in r.getMessage()], caplog.records
    text = "Maria Gonzalez from Barcelona gave her SSN 536-22-8725 to the clerk."
    # recognizers and the name and place lists work; without NER only what the lists know
    assert spans(detector, text) == [("PERSON", "Maria Gonzalez"), ("LOCATION", "Barcelona"), ("SSN", "536-22-8725")]
    assert spans(detector, "Adaeze Nwosu from Onitsha called.") == []
    assert PiiDetector(PiiSettings()).ner is True


def test_a_non_english_language_is_built_and_analysed_in_that_language() -> None:
    settings_de = PiiSettings(
        models={"de": "de_core_news_sm"}, entities=["PERSON", "LOCATION", "IBAN_CODE", "IP_ADDRESS"]
    )
    detector = PiiDetector(settings_de)
    assert detector.ner is False
    assert {r.supported_language for r in detector._recognizers} == {"de"}
    text = "Bitte überweisen Sie auf DE89 3704 0044 0532 0130 00. Der Server hat die IP 81.2.69.160."

    found = spans(detector, text)

    assert ("IBAN", "DE89 3704 0044 0532 0130 00") in found and ("IP_ADDRESS", "81.2.69.160") in found


def test_a_non_english_language_with_default_entities_degrades_instead_of_failing(
    policy: Policy,
) -> None:
    """No recognizer serves PERSON, LOCATION or US_SSN in 'de' without its model: Presidio's
    analyze() would raise for every text, and with fail_mode closed block every response."""
    detector = PiiDetector(PiiSettings(models={"de": "de_core_news_sm"}))
    text = "Frau Müller wohnt in München. Die Rechnung folgt morgen."

    assert detector.find(text) == []
    verdict = Scanner(policy, detectors=[detector], key=KEY).scan(text)
    assert verdict.status == "scanned" and verdict.text == text


def test_ner_is_false_when_the_only_model_is_missing_and_its_language_is_skipped() -> None:
    assert PiiDetector(PiiSettings(models={"de": "de_core_news_sm"})).ner is False


# -- long outputs ----------------------------------------------------------------------------------


def test_a_20kb_answer_is_scanned_whole(fw: Firewall) -> None:
    filler = [
        f"Step {i}: check the configuration of service {i} and restart it if the health check fails."
        for i in range(1, 240)
    ]
    middle = len(filler) // 2
    sentences = [
        "Hi Maria Gonzalez, here is the full runbook you asked for.",
        *filler[:middle],
        f"Step {middle}b: ask Jonas Weber to approve the change.",
        *filler[middle:],
        "If anything breaks, Priya Raman is on call this week.",
    ]
    text = "\n".join(sentences)
    assert len(text) >= 20_000

    verdict = fw.scan(text)

    assert verdict.status == "scanned"
    people = [f for f in verdict.findings if f.label == "PERSON"]
    assert [text[f.start : f.end] for f in people] == ["Maria Gonzalez", "Jonas Weber", "Priya Raman"]
    assert people[0].start < 100 < 8_000 < people[1].start < 12_000 < len(text) - 100 < people[2].start
    for name in ("Maria", "Gonzalez", "Jonas", "Weber", "Priya", "Raman"):
        assert name not in verdict.text


def test_a_sentence_over_unit_cap_is_cut_and_scanned_not_withheld(fw: Firewall, policy: Policy) -> None:
    cap = PiiSettings(**policy.detector_settings.get("pii", {})).unit_cap
    clause = "the value of the field is copied to the cache, "
    text = (
        "Maria Gonzalez asked why "
        + clause * (cap // len(clause) + 2)
        + "and Jonas Weber got the report from maria.gonzalez@corpmail.net"
    )
    assert len(text) > cap and "\n" not in text

    verdict = fw.scan(text)

    assert verdict.status == "scanned" and verdict.action == "redact"
    for raw in ("Maria", "Jonas Weber", "maria.gonzalez"):
        assert raw not in verdict.text
    assert clause in verdict.text


def test_a_line_without_breaks_is_cut_at_the_cap_and_streams_equal() -> None:
    """A 200 KB base64 data URI has no sentence end and no space: it is cut at unit_cap."""
    detector = PiiDetector(PiiSettings(unit_cap=500))
    blob = "data:image/png;base64," + "QUJDRA" * 35_000
    text = f"Jonas Weber sent {blob} to Maria Gonzalez."

    found = spans(detector, text)

    assert ("PERSON", "Jonas Weber") in found and ("PERSON", "Maria Gonzalez") in found
    assert all(e - b <= 500 for b, e in units(text, 500))


# -- streaming -------------------------------------------------------------------------------------

PEOPLE = ["Maria Gonzalez", "Jonas Weber"]  # the model misses " Ask Priya Raman about ..."
PLACES = ["Barcelona", "Lisbon", "Berlin"]
TEMPLATES = [
    "{person} will meet you in {place} on Monday.",
    "Please send the signed form to {person}.",
    "The flight of {person} to {place} leaves at 9:40.",
    "Thanks, {person}!",
    "The server restarted without errors.",
    "{person} says our office in {place} is closed on Friday?",
    "Please call {person} on +1 415 555 0134 about the trip to {place}.",
    "Ask {person} about the trip to {place}.",
    "{person} booked a hotel in {place} for the team offsite.",
]


@st.composite
def answers(draw: st.DrawFn) -> str:
    """1 to 24 sentences (up to ~1,500 characters: past the default policy's fixed hold-back)."""
    parts = []
    for _ in range(draw(st.integers(1, 24))):
        template = draw(st.sampled_from(TEMPLATES))
        person, place = draw(st.sampled_from(PEOPLE)), draw(st.sampled_from(PLACES))
        parts.append(template.format(person=person, place=place))
        parts.append(draw(st.sampled_from([" ", " ", "\n", "\n\n", "  "])))
    return "".join(parts[:-1]) if draw(st.booleans()) else "".join(parts)


@pytest.fixture(scope="module")
def scanners(policy: Policy) -> dict[str, Scanner]:
    """PII alone (no fixed hold-back: every feed advances to the last sentence end) and the default
    policy (the other detectors hold back 763 characters; PII waits for sentence ends past that)."""
    return {
        "pii-only": Scanner(dataclasses.replace(policy, detectors=("pii",)), key=KEY),
        "default": Scanner(policy, key=KEY),
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=answers(), data=st.data())
def test_streamed_answers_with_names_equal_the_one_shot_scan(
    scanners: dict[str, Scanner], text: str, data: st.DataObject
) -> None:
    pieces, at = [], 0
    while at < len(text):
        size = data.draw(st.integers(1, 30))
        pieces.append(text[at : at + size])
        at += size
    for name, scanner in scanners.items():
        whole = scanner.scan(text)
        incremental = scanner.incremental()

        early = "".join(incremental.feed(p) for p in pieces)
        out = early + incremental.finish()

        assert out == whole.text, name
        assert incremental.verdict().findings == whole.findings, name
        assert incremental.verdict().outcomes == whole.outcomes, name
        for raw in PEOPLE + PLACES:  # not vacuous: every name was found, and none was released raw
            assert raw not in out, (name, raw)
        if name == "pii-only" and re.search(r"\n|[.!?]\s", text[: len(text) - len(pieces[-1])]):
            assert early, "a finished sentence should be released before the stream ends"


@pytest.mark.parametrize("only_pii", [True, False], ids=["pii-only", "default-policy"])
def test_a_stream_releases_a_finished_sentence_before_max_span(policy: Policy, only_pii: bool) -> None:
    """PII's max_span is unit_cap + 1 (1501), but settled() lets a stream release a sentence once it
    ends. With PII alone that is at once; with the default policy the other detectors still hold
    back their own max_span - 1 (canary: 763) plus a step, which is still well short of 1501."""
    scanner = Scanner(dataclasses.replace(policy, detectors=("pii",)) if only_pii else policy, key=KEY)
    pii = next(d for d in scanner.detectors if d.name == "pii")
    fixed = [d.max_span for d in scanner.detectors if not hasattr(d, "settled")]  # patterns settle too
    assert pii.max_span == 1501 and max(fixed, default=0) < 1000
    clause = "then Maria Gonzalez explained, at some length and with many digressions, "
    unfinished = "And " + clause * (4 if only_pii else 14)
    text = "Hello there. " + unfinished.rstrip()
    assert len(text) < pii.max_span - 1  # holding back max_span - 1 would release nothing yet
    incremental = scanner.incremental()

    released = "".join(incremental.feed(text[i : i + 10]) for i in range(0, len(text), 10))

    assert released.startswith("Hello there.")
    assert "Maria" not in released and "And" not in released  # the open sentence is held back
    rest = incremental.finish()
    assert released + rest == scanner.scan(text).text and "Maria" not in rest


# -- no network ------------------------------------------------------------------------------------

LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def _remote(address: object) -> bool:
    if isinstance(address, tuple) and address:
        return str(address[0]) not in LOOPBACK
    return not isinstance(address, str | bytes)  # a str/bytes address is an AF_UNIX path


def test_building_and_scanning_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    from firewall.detectors.pii import ner

    attempts: list[object] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def guarded(real):
        def call(self, address):
            if _remote(address):
                attempts.append(address)
                raise OSError(f"network blocked by test: {address!r}")
            return real(self, address)

        return call

    def guarded_lookup(host, *args, **kwargs):
        if host is not None and str(host) not in LOOPBACK:
            attempts.append(("getaddrinfo", host))
            raise socket.gaierror(f"network blocked by test: {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    ner.load_model.cache_clear()

    detector = PiiDetector(PiiSettings())
    text = "Write to Maria Gonzalez at maria.gonzalez@examplecorp.com or visit https://support.example.org."
    found = spans(detector, text)

    assert detector.ner is True
    assert ("PERSON", "Maria Gonzalez") in found
    assert attempts == []


FRESH_PROCESS = """
import json, socket
attempts = []
def connect(self, address):
    attempts.append(repr(address)); raise OSError("blocked")
def getaddrinfo(host, *a, **k):
    attempts.append(repr(host)); raise socket.gaierror("blocked")
socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
from firewall.detectors.pii import PiiDetector, PiiSettings, units
settings = PiiSettings(models={"en": "no_such_model_xyz"}, entities=["PERSON", "EMAIL_ADDRESS"])
text = "Write to maria.gonzalez@examplecorp.com today."
found = [text[f.start:f.end] for f in PiiDetector(settings).find(text)]
print(json.dumps({"found": found, "attempts": attempts}))
"""


def test_email_validation_in_a_fresh_process_never_fetches(tmp_path) -> None:
    """tldextract (Presidio's email check) reads TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS when it is first
    imported, and fetches the public suffix list unless it is set (or cached on disk): the detector
    must set it before anything imports presidio_analyzer. A fresh process and an empty tldextract
    cache, as on a new machine."""
    env = {k: v for k, v in os.environ.items() if k != "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"}
    env.update(TLDEXTRACT_CACHE=str(tmp_path), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["found"] == ["maria.gonzalez@examplecorp.com"]
    assert result["attempts"] == [], result["attempts"]
