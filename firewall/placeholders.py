"""The shared placeholder test: values that documentation, templates and redacted text use in
place of a real credential. Every SECRET rule applies it to its value (a rule may opt out with
`placeholders: false`); users add their own exceptions with `allow` patterns.

A value is a placeholder when it
- contains a marker word: EXAMPLE, REDACTED, PLACEHOLDER, CHANGEME / CHANGE_ME, YOUR_ / YOUR-
  (your-api-key-here, YOUR_TOKEN), _HERE / -HERE, DUMMY, SAMPLE_ / _SAMPLE, INSERT_, REPLACE_ME
  (any case);
- is a template, a reference or cut short: ${VAR}, $VAR, $(command), {{ var }}, <your token>,
  %(name)s, %s, {0}, {name}, [REDACTED], sk_live_... (an ellipsis);
- has a run of six or more of one character (xxxxxx, XXXXXX, 000000, ******, ......), or of six
  or more consecutive characters of an alphabet (abcdef, 123456, ABCDEF, also descending);
- is all one character, or all masking characters (* • x X . - _).

Random credentials almost never do: a run of six equal base62 characters has a chance of about
one in 26 million at each position.
"""

from __future__ import annotations

import re

MARKERS = re.compile(
    r"example|redacted|placeholder|change[_-]?me|your[_-]|[_-]here\b|dummy|sample[_-]|[_-]sample|insert[_-]|replace[_-]?me",
    re.IGNORECASE,
)
_TEMPLATE = re.compile(r"\$\{|\$\(|\{\{|\{%|%\([A-Za-z_]+\)[sd]|^\$[A-Za-z_]|^<[^<>]*>$|^%s$|^\[[A-Z _-]+\]$|\.\.\.|…|\{[A-Za-z_0-9]{0,30}\}")
_MASK = set("*•xX.-_#")
RUN = 6


def is_placeholder(value: str) -> bool:
    """True when `value` looks like a stand-in for a credential rather than a real one."""
    if not value:
        return True
    if MARKERS.search(value) or _TEMPLATE.search(value):
        return True
    if len(set(value)) == 1 or set(value) <= _MASK:
        return True
    return _has_run(value)


def _has_run(value: str) -> bool:
    """A run of RUN equal characters, or of RUN consecutive ones (up or down, case folded)."""
    same = up = down = 1
    folded = value.lower()
    for previous, current in zip(folded, folded[1:]):
        step = ord(current) - ord(previous)
        same = same + 1 if step == 0 else 1
        up = up + 1 if step == 1 and current.isalnum() else 1
        down = down + 1 if step == -1 and current.isalnum() else 1
        if RUN in (same, up, down):
            return True
    return False
