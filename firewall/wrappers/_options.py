"""What every client wrapper records with its events: who asked (the principal), which model, from where."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Principal = str | Callable[[Mapping[str, Any]], "str | None"] | None
"""A fixed principal, or a callable given one call's arguments (a dict) that returns one or None."""


@dataclass(frozen=True)
class Options:
    """A wrapper's settings for the events' context, checked when wrapping."""

    principal: Principal
    """Who is asking, for quotas and events (None: no quota applies)."""
    model: str | None
    """The events' model; None lets each call name it (see `context`)."""
    source: str
    """The events' source, e.g. "openai" or "transformers"."""

    def __post_init__(self) -> None:
        if not (self.principal is None or isinstance(self.principal, str) or callable(self.principal)):
            raise TypeError(
                f"principal must be a str, a callable returning one (or None), or None; "
                f"got {type(self.principal).__name__}"
            )

    def context(self, call: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
        """The context of one call's events (principal, model, source).

        Args:
            call: the call's arguments, given to a callable principal.
            model: the model the call names, used when the wrapper was given none.

        Raises:
            TypeError: the principal callable returned something other than a str or None (it
                is called before the model is, so nothing has run yet).
        """
        principal = self.principal(dict(call)) if callable(self.principal) else self.principal
        if not (principal is None or isinstance(principal, str)):
            raise TypeError(
                f"the principal callable returned {type(principal).__name__} ({principal!r:.40}); "
                "it must return a str (who is asking) or None (no quota applies)"
            )
        return {"principal": principal, "model": self.model or model, "source": self.source}
