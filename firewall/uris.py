"""Show service URIs (Redis, databases) without the passwords they may carry."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact(uri: str) -> str:
    """The URI with its password replaced by ***, for messages, logs and screens."""
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:  # not a URI at all (a bare path with odd brackets): nothing to hide
        return uri
    if password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def scrub(text: str, uri: str) -> str:
    """`text` (an error message, say) with the password of `uri` replaced by ***."""
    try:
        password = urlsplit(uri).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text
