"""Rule files in, an immutable validated Policy out."""

from firewall.policy.loader import check_rules, load_policy
from firewall.policy.policy import ActionSpec, PatternRule, Policy

__all__ = ["ActionSpec", "PatternRule", "Policy", "check_rules", "load_policy"]
