"""Which endpoint a model name goes to, read from the environment (see docs/models.md).

Order, first match wins:

1. **Gateway mode** (``AUTONOMY_USE_EXTERNAL_APIS_GATEWAY=1``): every name goes to the cluster's model
   gateway, ``AUTONOMY_EXTERNAL_APIS_GATEWAY_URL`` (or the URL in the file named by ``..._URL_FILE``;
   default ``http://localhost:8000``) with the key ``AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY`` (or
   ``..._API_KEY_FILE``; default ``test_key``), through the OpenAI SDK at ``<url>/v1``, or through the
   Anthropic SDK at ``<url>`` for ``claude*`` names when ``AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK=1``.
   Requests carry ``X-Client-Cluster/Zone/Node`` from ``CLUSTER``, ``ZONE``, ``NODE``.
2. **Anthropic**: ``claude*`` names when ``ANTHROPIC_API_KEY`` is set (``ANTHROPIC_BASE_URL`` optional).
3. **OpenAI-compatible**: ``OPENAI_BASE_URL`` and/or ``OPENAI_API_KEY`` (OpenAI, Ollama, vLLM, llama.cpp);
   the key defaults to ``not-needed`` when only a base URL is given (local servers ignore it).
4. **LiteLLM proxy**: ``LITELLM_PROXY_API_BASE`` (+ ``LITELLM_PROXY_API_KEY``), OpenAI-compatible.

Nothing matched: :class:`~autonomy.errors.ModelError` listing the variables to set.
The environment is read when a ``Model`` is created, so tests can ``monkeypatch`` it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from autonomy.errors import ModelError

__all__ = ["Backend", "resolve_backend", "HOW_TO_CONFIGURE"]

HOW_TO_CONFIGURE = (
    "set OPENAI_BASE_URL (and OPENAI_API_KEY) for an OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, "
    "llama.cpp), or ANTHROPIC_API_KEY for claude-* models, or AUTONOMY_USE_EXTERNAL_APIS_GATEWAY=1 with "
    "AUTONOMY_EXTERNAL_APIS_GATEWAY_URL and AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY for a model gateway"
)

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Backend:
    """Where requests for one model go.

    ``kind`` is ``"openai"`` or ``"anthropic"`` (the SDK used); ``provider`` names the configuration
    (``gateway``, ``openai``, ``anthropic``, ``litellm_proxy``) and ``configured_by`` the env vars that
    chose it, for error messages. ``key_file`` is set when the key came from a file (re-read on 401).
    """

    kind: str
    provider: str
    base_url: str
    api_key: str
    configured_by: str
    headers: tuple[tuple[str, str], ...] = field(default=())
    key_file: str | None = None

    @property
    def client_key(self) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
        return (self.kind, self.base_url, self.api_key, self.headers)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _value_or_file(name: str, default: str) -> tuple[str, str | None]:
    """``$NAME``, else the stripped contents of the file named by ``$NAME_FILE``, else ``default``."""
    value = os.environ.get(name, "").strip()
    if value:
        return value, None
    path = os.environ.get(f"{name}_FILE", "").strip()
    if path:
        try:
            return Path(path).read_text().strip(), path
        except OSError as exc:
            raise ModelError(f"{name}_FILE={path!r} cannot be read ({exc.strerror}): point it at a "
                             f"readable file, or set {name} instead") from exc
    return default, None


def is_claude(name: str) -> bool:
    return name.split("/")[-1].lower().startswith("claude")


def resolve_backend(name: str) -> Backend:
    """The backend for model ``name`` under the current environment (order in the module docstring)."""
    if _flag("AUTONOMY_USE_EXTERNAL_APIS_GATEWAY"):
        url, _ = _value_or_file("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", "http://localhost:8000")
        key, key_file = _value_or_file("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY", "test_key")
        url = url.rstrip("/")
        headers = tuple(
            (header, os.environ[var])
            for header, var in (("X-Client-Cluster", "CLUSTER"), ("X-Client-Zone", "ZONE"), ("X-Client-Node", "NODE"))
            if os.environ.get(var)
        )
        by = "AUTONOMY_USE_EXTERNAL_APIS_GATEWAY=1, AUTONOMY_EXTERNAL_APIS_GATEWAY_URL"
        if is_claude(name) and _flag("AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK"):
            return Backend("anthropic", "gateway", url, key, by, headers, key_file)
        return Backend("openai", "gateway", url + "/v1", key, by, headers, key_file)
    if is_claude(name) and os.environ.get("ANTHROPIC_API_KEY"):
        url = os.environ.get("ANTHROPIC_BASE_URL", "").strip() or "https://api.anthropic.com"
        return Backend("anthropic", "anthropic", url.rstrip("/"), os.environ["ANTHROPIC_API_KEY"],
                       "ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL")
    base = os.environ.get("OPENAI_BASE_URL", "").strip()
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if base or key:
        return Backend("openai", "openai", (base or "https://api.openai.com/v1").rstrip("/"), key or "not-needed",
                       "OPENAI_BASE_URL, OPENAI_API_KEY")
    base = os.environ.get("LITELLM_PROXY_API_BASE", "").strip()
    if base:
        return Backend("openai", "litellm_proxy", base.rstrip("/"),
                       os.environ.get("LITELLM_PROXY_API_KEY", "").strip() or "not-needed",
                       "LITELLM_PROXY_API_BASE, LITELLM_PROXY_API_KEY")
    raise ModelError(f"No model endpoint is configured for model {name!r}: {HOW_TO_CONFIGURE}", model=name)
