"""SDK clients shared per event loop (upstream's ``autonomy.models.clients.shared_clients``).

The real home is :mod:`autonomy.models.clients`; these two functions give upstream's callers the
client ``Model`` itself would use for a model name under the current environment.
"""

from __future__ import annotations

from typing import Any

from autonomy.errors import ModelError
from autonomy.models.backends import resolve_backend
from autonomy.models.clients import aclose_clients, sdk_client

__all__ = ["get_shared_openai_client", "get_shared_anthropic_client", "close_shared_clients"]


def _client(model: str, kind: str) -> Any:
    backend = resolve_backend(model)
    if backend.kind != kind:
        raise ModelError(f"model {model!r} is served through the {backend.kind} SDK here "
                         f"(provider {backend.provider}, configured by {backend.configured_by}), not {kind}",
                         model=model)
    return sdk_client(backend)


def get_shared_openai_client(model: str = "gpt-4o") -> Any:
    """The shared ``openai.AsyncOpenAI`` for ``model`` in the running loop."""
    return _client(model, "openai")


def get_shared_anthropic_client(model: str = "claude-sonnet-4-5") -> Any:
    """The shared ``anthropic.AsyncAnthropic`` for ``model`` in the running loop."""
    return _client(model, "anthropic")


async def close_shared_clients() -> None:
    """Close the running loop's shared clients."""
    await aclose_clients()
