"""The console's client of the nodes' own HTTP API (port 8000 of each pod instance).

The controller reaches every pod instance directly (the pod network's bridge, or loopback ports in
host mode), so the console asks each node what it hosts (``GET /agents``, ``GET /workers``), an agent's
remembered messages (``GET /agents/{name}/conversations``) and streams a chat turn
(``POST /agents/{name}?stream=true``). A node that does not answer is shown as such, never as an error
of the page: one broken pod must not hide the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["NodeInventory", "inventory", "conversation_messages", "chat_events", "INVENTORY_TIMEOUT"]

INVENTORY_TIMEOUT = 3.0
CHAT_TIMEOUT = 300.0


@dataclass
class NodeInventory:
    """What one node hosts, or why it could not be asked."""

    pod: str
    clone: int
    node: str
    base_url: str
    agents: list[dict[str, Any]] = field(default_factory=list)
    workers: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def key(self) -> str:
        """``pod/clone``: how the console names a pod instance in its forms."""
        return f"{self.pod}/{self.clone}"


def base_url(pod: dict[str, Any]) -> str:
    address = str(pod.get("address"))
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{pod.get('port')}"


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url, timeout=INVENTORY_TIMEOUT)
    response.raise_for_status()
    return response.json()


async def _inventory_of(client: httpx.AsyncClient, pod: dict[str, Any]) -> NodeInventory:
    inv = NodeInventory(str(pod.get("pod")), int(pod.get("clone") or 0), str(pod.get("node")), base_url(pod))
    if not any(c.get("node") for c in pod.get("containers") or []):
        inv.error = "no node container (tool servers only)"
        return inv
    try:
        agents, workers = await asyncio.gather(_get_json(client, inv.base_url + "/agents"),
                                               _get_json(client, inv.base_url + "/workers"))
        inv.agents = list(agents.get("agents") or [])
        inv.workers = list(workers.get("workers") or [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        inv.error = f"not answering on {inv.base_url} ({type(exc).__name__})"
    return inv


async def inventory(client: httpx.AsyncClient, status: dict[str, Any]) -> list[NodeInventory]:
    """Every pod instance of a zone's ``status`` with its agents and workers (asked in parallel)."""
    return list(await asyncio.gather(*(_inventory_of(client, pod) for pod in status.get("pods") or [])))


async def conversation_messages(client: httpx.AsyncClient, inv: NodeInventory, agent: str,
                                limit: int = 40) -> list[dict[str, Any]]:
    """The agent's remembered messages (every conversation), oldest first, the last ``limit``."""
    data = await _get_json(client, f"{inv.base_url}/agents/{quote(agent, safe='')}/conversations")
    messages = [m for m in data.get("conversations") or [] if isinstance(m, dict)]
    messages.sort(key=lambda m: float(m.get("timestamp") or 0))
    return messages[-limit:]


def _events_of(snippet: dict[str, Any], seen_calls: set[str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for message in snippet.get("messages") or []:
        role = message.get("role")
        text = (message.get("content") or {}).get("text") if isinstance(message.get("content"), dict) else None
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                key = call.get("id") or json.dumps(function, sort_keys=True)
                if key not in seen_calls and function.get("name"):
                    seen_calls.add(key)
                    events.append({"tool": function.get("name"), "arguments": function.get("arguments")})
            if text:
                events.append({"text": text})
        elif role == "tool" and text is not None:
            events.append({"tool_result": text, "name": message.get("name")})
    return events


async def chat_events(client: httpx.AsyncClient, inv: NodeInventory, agent: str, message: str, scope: str,
                      conversation: str) -> AsyncIterator[dict[str, Any]]:
    """Send ``message`` to ``agent`` and yield its answer as it streams: ``{"text"}`` chunks,
    ``{"tool", "arguments"}``, ``{"tool_result", "name"}``, and last ``{"done": True}`` or ``{"error"}``."""
    url = f"{inv.base_url}/agents/{quote(agent, safe='')}?stream=true&timeout={CHAT_TIMEOUT:g}"
    body = {"message": message, "scope": scope, "conversation": conversation}
    seen: set[str] = set()
    try:
        async with client.stream("POST", url, json=body, timeout=httpx.Timeout(10.0, read=CHAT_TIMEOUT)) as answer:
            if answer.status_code >= 300:
                detail = (await answer.aread()).decode(errors="replace")
                with_reason = json.loads(detail).get("detail", detail) if detail.startswith("{") else detail
                yield {"error": f"{agent} answered {answer.status_code}: {with_reason}"}
                return
            async for line in answer.aiter_lines():
                if not line.strip():
                    continue
                try:
                    snippet = json.loads(line)
                except ValueError:
                    yield {"error": f"{agent} sent a line that is not JSON: {line[:200]!r}"}
                    return
                if snippet.get("type") == "error":
                    yield {"error": str(snippet.get("message"))}
                    return
                for event in _events_of(snippet, seen):
                    yield event
    except httpx.HTTPError as exc:
        yield {"error": f"lost the node {inv.node} at {inv.base_url}: {type(exc).__name__} {exc}"}
        return
    yield {"done": True}
