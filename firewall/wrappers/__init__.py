"""guard(): wrap any callable so its output goes through the firewall, whatever its kind.

The dispatch is decided once, when wrapping: async generator → astream, coroutine → ascan,
generator → stream, plain function → scan (or stream, if it returns an iterator of str). A string
first argument (or `prompt=`) is checked first (quotas, extraction signals: QuotaExceeded may
be raised before the model is called) and recorded, redacted, with the verdict.

Client adapters live beside it and import their SDK only when imported themselves:
`firewall.wrappers.openai` (`wrap_openai`: OpenAI-compatible SDK clients) and
`firewall.wrappers.hf` (`wrap_pipeline`, `wrap_generate`: transformers).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firewall.firewall import Firewall


def _prompt(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    if args and isinstance(args[0], str):
        return args[0]
    value = kwargs.get("prompt")
    return value if isinstance(value, str) else None


def guard(fw: Firewall, fn: Callable[..., Any], **context: Any) -> Callable[..., Any]:
    """Return `fn` wrapped so that what it produces is scanned by `fw`."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def guarded_agen(*args: Any, **kwargs: Any) -> AsyncIterator[str]:
            prompt = _prompt(args, kwargs)
            if prompt is not None:
                await fw.acheck_prompt(prompt, **context)
            async for safe in fw.astream(fn(*args, **kwargs), prompt=prompt, **context):
                yield safe

        return guarded_agen

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def guarded_async(*args: Any, **kwargs: Any) -> str:
            prompt = _prompt(args, kwargs)
            if prompt is not None:
                await fw.acheck_prompt(prompt, **context)
            result = await fn(*args, **kwargs)
            return (await fw.ascan(result, prompt=prompt, **context)).text

        return guarded_async

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def guarded_gen(*args: Any, **kwargs: Any) -> Iterator[str]:
            prompt = _prompt(args, kwargs)
            if prompt is not None:
                fw.check_prompt(prompt, **context)
            yield from fw.stream(fn(*args, **kwargs), prompt=prompt, **context)

        return guarded_gen

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        prompt = _prompt(args, kwargs)
        if prompt is not None:
            fw.check_prompt(prompt, **context)
        result = fn(*args, **kwargs)
        if isinstance(result, str):
            return fw.scan(result, prompt=prompt, **context).text
        if isinstance(result, Iterator):
            return fw.stream(result, prompt=prompt, **context)
        raise TypeError(f"guarded function returned {type(result).__name__}; expected str or an iterator of str")

    return guarded
