"""The agents' HTTP routes (spec §2), added to every node's app by ``autonomy.http.routes``.

Our decisions on upstream's quirks: errors get their status (404 unknown agent, 400 body that is not
JSON, 422 body of the wrong shape, 504 no answer within ``?timeout=`` seconds (float, default 180),
500 with the agent's error message otherwise), never ``200 null``. ``?stream=true`` answers one JSON
object per line, each the inner ``conversation_snippet`` of a part; if the agent fails after the
stream started, the last line is ``{"message": ..., "type": "error"}``; ``timeout`` then bounds the
wait for each part.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from autonomy.errors import DeliveryError, DeliveryTimeout, InvalidMessage, WorkerNotFound
from autonomy.http.server import NodeDep
from autonomy.nodes.message import (
    ConversationSnippet,
    Error,
    GetConversationsRequest,
    StreamedConversationSnippet,
    from_json,
    message_from_dict,
    to_dict,
    to_json,
)

__all__ = ["add_agent_routes", "parse_agent_request"]

router = APIRouter()
DEFAULT_TIMEOUT = 180.0


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type="application/json")


def parse_agent_request(body: bytes) -> tuple[list[Any], str, str]:
    """``(messages, scope, conversation)`` of a POST body ``{"message", "scope"?, "conversation"?}``; without a
    ``message`` key the whole body is the message. Raises HTTPException 400/422 naming the problem."""
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError as exc:
        raise HTTPException(400, f"The body must be JSON like {{\"message\": \"Hello\"}} ({exc})") from None
    if data is None:
        raise HTTPException(422, "The body is empty: send {\"message\": \"Hello\"}")
    scope, conversation = "", ""
    message: Any = data
    if isinstance(data, dict) and "message" in data:
        message = data["message"]
        scope, conversation = data.get("scope") or "", data.get("conversation") or ""
        if not isinstance(scope, str) or not isinstance(conversation, str):
            raise HTTPException(422, "'scope' and 'conversation' must be strings")
    try:
        if isinstance(message, str):
            messages = [message_from_dict(message)]
        elif isinstance(message, list):
            messages = [message_from_dict(m, f"message[{i}].") for i, m in enumerate(message)]
        elif isinstance(message, dict) and ("role" in message or "content" in message):
            messages = [message_from_dict(message)]
        elif isinstance(message, dict):
            messages = [message_from_dict(json.dumps(message))]
        else:
            raise HTTPException(422, f"'message' must be a string, a message or a list of messages, not {message!r}")
    except InvalidMessage as exc:
        raise HTTPException(422, str(exc)) from None
    return messages, scope, conversation


def _status_of(exc: Exception, name: str, timeout: float) -> HTTPException:
    if isinstance(exc, WorkerNotFound):
        return HTTPException(404, f"Agent {name!r} not found: GET /agents lists the agents of this node")
    if isinstance(exc, DeliveryTimeout):
        return HTTPException(504, f"Agent {name!r} did not answer within {timeout:g} s: retry with a larger "
                             "?timeout= (seconds)")
    return HTTPException(500, f"Agent {name!r} failed: {exc}")


def _check_agent(node: Any, name: str) -> None:
    if node.endpoint(name) is None:
        raise HTTPException(404, f"Agent {name!r} not found: GET /agents lists the agents of this node")


async def _ask(node: Any, name: str, request: Any, timeout: float) -> Any:
    try:
        text = await node.send_and_receive(name, to_json(request), timeout=timeout)
        reply = from_json(text)
    except (DeliveryError, InvalidMessage) as exc:
        raise _status_of(exc, name, timeout) from None
    if isinstance(reply, Error):
        raise HTTPException(500, reply.message)
    return reply


async def _stream(node: Any, name: str, snippet: ConversationSnippet, timeout: float) -> Response:
    try:
        mailbox = await node.send(name, to_json(StreamedConversationSnippet(snippet, 0)))
        first = from_json(await mailbox.receive(timeout=timeout))
    except (DeliveryError, InvalidMessage) as exc:
        raise _status_of(exc, name, timeout) from None
    if isinstance(first, Error):
        raise HTTPException(500, first.message)

    async def lines() -> AsyncIterator[str]:
        expected, early, reply = 1, {}, first
        try:
            while True:
                if isinstance(reply, Error):
                    yield to_json(reply) + "\n"
                    return
                if not isinstance(reply, StreamedConversationSnippet):
                    yield to_json(Error(f"Agent {name!r} sent a {reply.type!r} in a stream")) + "\n"
                    return
                early[reply.part_nb] = reply
                while expected in early:
                    part = early.pop(expected)
                    expected += 1
                    yield json.dumps(to_dict(part.snippet)) + "\n"
                    if part.finished:
                        return
                try:
                    reply = from_json(await mailbox.receive(timeout=timeout))
                except (DeliveryError, InvalidMessage) as exc:
                    reply = Error(_status_of(exc, name, timeout).detail)
        finally:
            mailbox.close()

    return StreamingResponse(lines(), media_type="application/json")


@router.get("/agents")
async def list_agents(node: NodeDep) -> Response:
    return _json({"agents": await node.list_agents()})


@router.get("/agents/{name}")
async def get_agent(name: str, node: NodeDep) -> Response:
    for agent in await node.list_agents():
        if agent["name"] == name:
            return _json(agent)
    raise HTTPException(404, f"Agent {name!r} not found: GET /agents lists the agents of this node")


async def _conversations(node: Any, name: str, scope: str | None, conversation: str | None) -> Response:
    _check_agent(node, name)
    reply = await _ask(node, name, GetConversationsRequest(scope, conversation), DEFAULT_TIMEOUT)
    return _json(to_dict(reply))


@router.get("/agents/{name}/conversations")
async def all_conversations(name: str, node: NodeDep) -> Response:
    return await _conversations(node, name, None, None)


@router.get("/agents/{name}/scopes/{scope}/conversations")
async def scope_conversations(name: str, scope: str, node: NodeDep) -> Response:
    return await _conversations(node, name, scope, None)


@router.get("/agents/{name}/scopes/{scope}/conversations/{conversation}")
async def one_conversation(name: str, scope: str, conversation: str, node: NodeDep) -> Response:
    return await _conversations(node, name, scope, conversation)


async def _post(node: Any, name: str, request: Request, stream: bool, timeout: float) -> Response:
    if not timeout > 0:
        raise HTTPException(422, f"?timeout= must be positive seconds, not {timeout!r}")
    messages, scope, conversation = parse_agent_request(await request.body())
    _check_agent(node, name)
    snippet = ConversationSnippet(scope, conversation, messages)
    if stream:
        return await _stream(node, name, snippet, timeout)
    reply = await _ask(node, name, snippet, timeout)
    if not isinstance(reply, ConversationSnippet):
        raise HTTPException(500, f"Agent {name!r} answered with a {reply.type!r} message")
    return _json([to_dict(m) for m in reply.messages])


@router.post("/agents/{name}")
async def post_to_agent(name: str, request: Request, node: NodeDep, stream: bool = False,
                        timeout: float = Query(DEFAULT_TIMEOUT), content_size: int = 50) -> Response:
    return await _post(node, name, request, stream, timeout)


@router.post("/flows/{name}")
async def post_to_flow(name: str, request: Request, node: NodeDep, stream: bool = False,
                       timeout: float = Query(DEFAULT_TIMEOUT)) -> Response:
    if node.endpoint(name) is None:
        raise HTTPException(404, f"Flow {name!r} not found on this node")
    return await _post(node, name, request, stream, timeout)


@router.get("/tools")
async def list_tools(node: NodeDep) -> Response:
    return _json(await node.list_tools())


@router.get("/tools/{name}")
async def get_tool(name: str, node: NodeDep) -> Response:
    for tool in await node.list_tools():
        if tool["name"] == name:
            return _json(tool)
    raise HTTPException(404, f"Tool {name!r} not found: GET /tools lists the agents exposed as tools")


def add_agent_routes(app: FastAPI) -> None:
    """Add ``/agents...``, ``/flows/{name}`` and ``/tools...`` routes to ``app``."""
    app.include_router(router)
