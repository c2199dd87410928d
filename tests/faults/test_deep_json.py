"""Fault: JSON nested deeper than Python's parser recurses, sent to the model gateway: a 400 naming the
problem, never a 500 (the node's and the controller API's answers are in test_node_input and the
cluster tests)."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import gateway, upstream  # noqa: F401 (fixtures)


async def test_the_model_gateway_refuses_deep_nesting_with_400(gateway):  # noqa: F811
    body = b'{"model": "fake-model", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(gateway.base_url + "/chat/completions", content=body,
                                 headers={"Authorization": f"Bearer {gateway.key}", "content-type": "application/json"})
    assert answer.status_code == 400 and "nests too deeply" in answer.text
