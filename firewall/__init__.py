"""outguard: an output-leakage firewall for LLM applications.

    from firewall import Firewall
    fw = Firewall.from_rules("rules/")
    fw.scan("Mail me at jane@acmecorp.com").text   # 'Mail me at [EMAIL]'
"""

from firewall.actions import deanonymize
from firewall.errors import (
    ConfigError,
    DetectorError,
    FirewallError,
    OutputBlocked,
    QuotaExceeded,
    RuleError,
)
from firewall.firewall import Firewall
from firewall.model import DetectorFailure, Finding, Outcome, Verdict
from firewall.policy import Policy, check_rules, load_policy
from firewall.scanner import Scanner
from firewall.streaming import StreamScanner

__all__ = [
    "ConfigError",
    "DetectorError",
    "DetectorFailure",
    "Finding",
    "Firewall",
    "FirewallError",
    "Outcome",
    "OutputBlocked",
    "Policy",
    "QuotaExceeded",
    "RuleError",
    "Scanner",
    "StreamScanner",
    "Verdict",
    "check_rules",
    "deanonymize",
    "load_policy",
]
