"""Upstream's ``autonomy.models.clients.default`` path: ``DefaultModelClient`` is :class:`autonomy.models.Model`.

Upstream has one client class per backend; ours is one ``Model`` that resolves its backend from the
environment when it is created (gateway mode first: docs/models.md), so every client name is ``Model``.
"""

from autonomy.models.model import Model as DefaultModelClient

__all__ = ["DefaultModelClient"]
