"""Upstream module path ``autonomy.nodes.request`` of ``NodeRequest``/``NodeResponse`` (ours: ``controller.py``)."""

from autonomy.nodes.controller import NodeRequest, NodeResponse, decode_message, encode_message

__all__ = ["NodeRequest", "NodeResponse", "encode_message", "decode_message"]
