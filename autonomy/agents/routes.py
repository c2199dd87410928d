"""The agents' HTTP routes (spec §2), added to every node's app by ``autonomy.http.routes``.

Our decisions on upstream's quirks: errors get their status (404 unknown agent, 400 body that is not
JSON, 422 body of the wrong shape, 504 no answer within ``?timeout=`` seconds (float, default 180),
500 with the agent's error message otherwise), never ``200 null``. ``?stream=true`` answers one JSON
object per line, each the inner ``conversation_snippet`` of a part; if the agent fails after the
stream started, the last line is ``{"message": ..., "type": "error"}``; ``timeout`` then bounds the
wait for each part.

Handlers raise errors of the tree (:mod:`autonomy.errors`); :mod:`autonomy.agents.http_errors` turns
them into answers, in one place, from each error's ``http_status``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from autonomy.agents.codec import from_dict, from_json, message_from_dict, to_dict, to_json
from autonomy.agents.errors import AgentError, AgentNotFound, AgentTimeoutError
from autonomy.agents.http_errors import ErrorTranslatingRoute
from autonomy.agents.input_checks import check_request_json, max_json_depth
from autonomy.agents.protocol import ConversationSnippet, Error, GetConversationsRequest, StreamedConversationSnippet
from autonomy.errors import AutonomyError, ConfigError, DeliveryError, DeliveryTimeout, InvalidMessage, WorkerNotFound

__all__ = ["add_agent_routes", "parse_agent_request"]

router = APIRouter(route_class=ErrorTranslatingRoute)
DEFAULT_TIMEOUT = 180.0


def _node(request: Request) -> Any:
    # Not NodeDep: FastAPI runs sync dependencies in a thread pool, which costs more than a turn.
    return request.state.node


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type="application/json")


def parse_agent_request(body: bytes) -> tuple[list[Any], str, str]:
    """``(messages, scope, conversation)`` of a POST body ``{"message", "scope"?, "conversation"?}``; without a
    ``message`` key the whole body is the message. Raises HTTPException 400/422 naming the problem."""
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError as exc:
        raise HTTPException(400, f"The body must be JSON like {{\"message\": \"Hello\"}} ({exc})") from None
    except RecursionError:
        raise HTTPException(422, f"body nests deeper than {max_json_depth()} levels "
                                 "(AUTONOMY_MAX_JSON_DEPTH)") from None
    if data is None:
        raise HTTPException(422, "The body is empty: send {\"message\": \"Hello\"}")
    try:
        check_request_json(data)
    except ConfigError as exc:  # InputRefused, or a malformed limit setting
        raise HTTPException(422, str(exc)) from None
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


def _agent_failure(exc: Exception, name: str, timeout: float) -> AutonomyError:
    """What a failed exchange with agent ``name`` means to the HTTP caller (its status: ``http_status``)."""
    if isinstance(exc, WorkerNotFound):
        return AgentNotFound(name)
    if isinstance(exc, DeliveryTimeout):
        return AgentTimeoutError(f"POST /agents/{name}", timeout, {"agent_name": name},
                                 message=f"Agent {name!r} did not answer within {timeout:g} s: retry with a "
                                 "larger ?timeout= (seconds)")
    return AgentError(f"Agent {name!r} failed: {exc}", name)


def _check_agent(node: Any, name: str) -> None:
    if node.endpoint(name) is None:
        raise AgentNotFound(name)


async def _ask(node: Any, name: str, request: Any, timeout: float) -> Any:
    try:
        text = await node.send_and_receive(name, to_json(request), timeout=timeout)
        reply = from_json(text)
    except (DeliveryError, InvalidMessage) as exc:
        raise _agent_failure(exc, name, timeout) from None
    if isinstance(reply, Error):
        raise AgentError(reply.message, name)
    return reply


async def _stream(node: Any, name: str, snippet: ConversationSnippet, timeout: float) -> Response:
    try:
        mailbox = await node.send(name, to_json(StreamedConversationSnippet(snippet, 0)))
        first = from_json(await mailbox.receive(timeout=timeout))
    except (DeliveryError, InvalidMessage) as exc:
        raise _agent_failure(exc, name, timeout) from None
    if isinstance(first, Error):
        raise AgentError(first.message, name)

    async def lines() -> AsyncIterator[str]:
        expected, early = 1, {}
        reply: Any = first
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
                    reply = Error(str(_agent_failure(exc, name, timeout)))
        finally:
            mailbox.close()

    return StreamingResponse(lines(), media_type="application/json")


@router.get("/agents")
async def list_agents(request: Request) -> Response:
    return _json({"agents": await _node(request).list_agents()})


@router.get("/agents/{name}")
async def get_agent(name: str, request: Request) -> Response:
    for agent in await _node(request).list_agents():
        if agent["name"] == name:
            return _json(agent)
    raise AgentNotFound(name)


async def _conversations(node: Any, name: str, scope: str | None, conversation: str | None) -> Response:
    _check_agent(node, name)
    reply = await _ask(node, name, GetConversationsRequest(scope, conversation), DEFAULT_TIMEOUT)
    return _json(to_dict(reply))


@router.get("/agents/{name}/conversations")
async def all_conversations(name: str, request: Request) -> Response:
    return await _conversations(_node(request), name, None, None)


@router.get("/agents/{name}/scopes/{scope}/conversations")
async def scope_conversations(name: str, scope: str, request: Request) -> Response:
    return await _conversations(_node(request), name, scope, None)


@router.get("/agents/{name}/scopes/{scope}/conversations/{conversation}")
async def one_conversation(name: str, scope: str, conversation: str, request: Request) -> Response:
    return await _conversations(_node(request), name, scope, conversation)


def _query(request: Request) -> tuple[bool, float]:
    """``stream`` and ``timeout`` from the query string (parsed here: FastAPI's parameter machinery
    costs a noticeable share of a turn)."""
    params = request.query_params
    stream_text = params.get("stream", "false").strip().lower()
    if stream_text not in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        raise HTTPException(422, f"?stream= must be true or false, not {stream_text!r}")
    try:
        timeout = float(params.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        raise HTTPException(422, f"?timeout= must be seconds (a number), not {params.get('timeout')!r}") from None
    if not timeout > 0 or timeout != timeout or timeout == float("inf"):
        raise HTTPException(422, f"?timeout= must be positive seconds, not {timeout!r}")
    return stream_text in ("true", "1", "yes", "on"), timeout


async def handle_post(node: Any, name: str, request: Request) -> Response:
    stream, timeout = _query(request)
    messages, scope, conversation = parse_agent_request(await request.body())
    _check_agent(node, name)
    snippet = ConversationSnippet(scope, conversation, messages)
    if stream:
        return await _stream(node, name, snippet, timeout)
    try:
        text = await node.send_and_receive(name, to_json(snippet), timeout=timeout)
        reply = json.loads(text)
    except (DeliveryError, ValueError) as exc:
        raise _agent_failure(exc, name, timeout) from None
    if isinstance(reply, dict) and reply.get("type") == "conversation_snippet" \
            and isinstance(reply.get("messages"), list):
        return _json(reply["messages"])  # the agent's own encoding: no need to decode and re-encode
    try:
        decoded = from_dict(reply)
    except InvalidMessage as exc:
        raise _agent_failure(exc, name, timeout) from None
    if isinstance(decoded, Error):
        raise AgentError(decoded.message, name)
    raise AgentError(f"Agent {name!r} answered with a {decoded.type!r} message", name)


@router.post("/agents/{name}")
async def post_to_agent(name: str, request: Request) -> Response:
    """Query: ``stream`` (bool, default false), ``timeout`` (seconds, default 180), ``content_size``
    (accepted, unused, as upstream)."""
    return await handle_post(_node(request), name, request)


@router.post("/flows/{name}")
async def post_to_flow(name: str, request: Request) -> Response:
    if _node(request).endpoint(name) is None:
        raise AgentNotFound(name, "Flow", hint="")
    return await handle_post(_node(request), name, request)


@router.get("/tools")
async def list_tools(request: Request) -> Response:
    return _json(await _node(request).list_tools())


@router.get("/tools/{name}")
async def get_tool(name: str, request: Request) -> Response:
    for tool in await _node(request).list_tools():
        if tool["name"] == name:
            return _json(tool)
    raise AgentNotFound(name, "Tool", "GET /tools lists the agents exposed as tools")


def add_agent_routes(app: FastAPI) -> None:
    """Add ``/agents...``, ``/flows/{name}`` and ``/tools...`` routes to ``app``, and the agent turn's
    fast path when it answers exactly as these routes would (autonomy/agents/fast_path.py)."""
    from autonomy.agents.fast_path import AgentTurnFastPath, can_install

    if can_install(app):
        app.add_middleware(AgentTurnFastPath)
    app.include_router(router)
