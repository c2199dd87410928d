"""Models: chat, embeddings and speech through the official OpenAI and Anthropic SDKs.

``Model(name)`` resolves its endpoint from the environment (docs/models.md) and returns OpenAI-shaped
results from every backend.
"""

from autonomy.errors import ModelError, ModelTimeout
from autonomy.models.clients import aclose_clients
from autonomy.models.model import Model

__all__ = ["Model", "ModelError", "ModelTimeout", "aclose_clients"]
