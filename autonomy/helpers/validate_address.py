"""Upstream module path of ``validate_address``: a name of ``[a-zA-Z0-9_-]+`` (else ValueError)."""

from autonomy.nodes.address import validate_address

__all__ = ["validate_address"]
