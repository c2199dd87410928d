"""Where a realtime (voice) session goes: the OpenAI Realtime WebSocket of the configured endpoint.

Same environment as every ``Model`` (``backends.py``): in gateway mode the cluster's model gateway
(``ws://{gateway}/v1/realtime?model=M`` with the zone key and the ``X-Client-*`` headers); otherwise
``OPENAI_BASE_URL``/``OPENAI_API_KEY`` (``wss://api.openai.com/v1/realtime`` by default). The Anthropic
API has no realtime endpoint (ModelError).
"""

from __future__ import annotations

from urllib.parse import quote

from autonomy.errors import ModelError
from autonomy.models.backends import resolve_backend

__all__ = ["realtime_endpoint"]


def realtime_endpoint(model: str) -> tuple[str, dict[str, str]]:
    """The WebSocket URL for a realtime session with ``model`` and the headers to open it with."""
    backend = resolve_backend(model)
    if backend.kind != "openai":
        raise ModelError(f"Realtime model {model!r} would go to the Anthropic API, which has no realtime "
                         "endpoint: use the gateway or an OpenAI-compatible endpoint", model=model,
                         url=backend.base_url)
    base = backend.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    headers = {"Authorization": f"Bearer {backend.api_key}", "OpenAI-Beta": "realtime=v1", **dict(backend.headers)}
    return f"{base}/realtime?model={quote(model, safe='')}", headers
