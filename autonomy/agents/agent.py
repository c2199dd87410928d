"""Agents: an LLM loop with tools and memory, one worker per conversation (spec §1.3, §3.2).

``await Agent.start(node, instructions, ...)`` registers a spawner at the agent's name on ``node``
and returns an :class:`AgentReference`. Nothing else is allocated until the first message: the
model (``Model("claude-sonnet-4-v1")`` when none is given) is created at the first turn, so an
agent without a configured model provider starts fine and its first answer is the model's error.

To start agents on another node (``RemoteNode.start_agent``), the model and tools are shipped with
cloudpickle: they must be picklable (``Model`` and ``Tool(func)`` of module-level functions are;
open connections are not).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

from autonomy.agents.builtin_tools import builtin_tools
from autonomy.agents.codec import from_dict, from_json, message_to_openai
from autonomy.agents.errors import AgentError, AgentStartTimeoutError, AgentStopTimeoutError
from autonomy.agents.input_checks import valid_text
from autonomy.agents.model_check import warn_if_no_model
from autonomy.agents.protocol import AgentMessage
from autonomy.agents.reference import AgentReference
from autonomy.agents.state import State, StateMachine
from autonomy.agents.worker import ConversationWorker
from autonomy.memory.config import cached_conversations, store_for
from autonomy.memory.memory import Memory
from autonomy.nodes.address import validate_address

__all__ = ["Agent", "State", "StateMachine", "key_extractor", "system_message", "prepare_tools",
           "DEFAULT_MODEL"]

logger = logging.getLogger("autonomy.agents")

DEFAULT_MODEL = "claude-sonnet-4-v1"
_DECODED_KEPT = 4096  # parsed messages kept between routing and decoding, at most
_UNPARSED = object()
DEFAULT_MAX_ITERATIONS = 1000
DEFAULT_MAX_EXECUTION_TIME = 600.0

_LATER = {  # upstream arguments of features another part of the project adds: refused only when set
    "knowledge": "Agent.start(knowledge=...) was removed upstream: give tools=[KnowledgeTool(knowledge)]",
}


def key_extractor(message: str) -> str | None:
    """The conversation key of a message: ``"{scope}/{conversation}"`` when both are non-empty, at the
    top level or (for streamed requests) inside ``snippet``; else None (the agent's default worker)."""
    try:
        data = json.loads(message)
    except ValueError:
        return None
    return _key_of(data)


def _key_of(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    scope, conversation = data.get("scope"), data.get("conversation")
    if not (scope or conversation):
        snippet = data.get("snippet")
        if isinstance(snippet, dict):
            scope, conversation = snippet.get("scope"), snippet.get("conversation")
    if scope and conversation and isinstance(scope, str) and isinstance(conversation, str):
        key = f"{scope}/{conversation}"
        # A key that is not valid Unicode never names a worker (listings would fail to encode it): the
        # default worker gets the message and refuses it.
        return key if valid_text(key) else None
    return None


def system_message(instructions: str, enable_ask_for_user_input: bool = False) -> dict[str, Any]:
    """The system message the model sees first (OpenAI dict)."""
    text = instructions
    if enable_ask_for_user_input:
        text += ("\n\nWhen you need information or a confirmation that only the user can give, call the "
                 "ask_user_for_input tool with your question, and wait for the answer.")
    return {"role": "system", "content": text}


def prepare_tools(tools: list[Any] | None, node: Any = None) -> tuple[list[Any], list[Any]]:
    """Split ``tools`` into shared tools and tool factories (objects with ``create_tools``), giving
    tools that have an unset ``node`` attribute this node (MCP tools, agent references)."""
    shared, factories = [], []
    for tool in tools or []:
        if hasattr(tool, "create_tools"):
            factories.append(tool)
            continue
        if not callable(getattr(tool, "invoke", None)) or not callable(getattr(tool, "spec", None)):
            raise TypeError(f"tool {tool!r} is not a tool: give Tool(function), McpTool(server, tool), an "
                            "object with async spec()/invoke(json), or a factory with create_tools()")
        if node is not None and hasattr(tool, "node") and tool.node is None:
            tool.node = node
        shared.append(tool)
    return shared, factories


def framework_text(enable_filesystem: bool, filesystem_visibility: str, subagent_configs: Any) -> str:
    """What the system message adds about files and subagents (without a context template)."""
    if not enable_filesystem and not subagent_configs:
        return ""
    from autonomy.agents.context import framework_instructions

    return framework_instructions(False, enable_filesystem, filesystem_visibility, subagent_configs)


def _tool_name(tool: Any, spec: dict[str, Any]) -> str:
    return getattr(tool, "name", None) or spec.get("function", {}).get("name") or ""


class Agent:
    """An agent's configuration and memory, shared by its conversation workers."""

    __slots__ = ("node", "name", "instructions", "model", "tools", "factories", "memory", "max_iterations",
                 "max_execution_time", "enable_ask_for_user_input", "exposed_as", "context_template", "framework",
                 "subagents", "_shared_specs", "_system", "_decoded")

    def __init__(self, node: Any, name: str, instructions: str, model: Any = None, tools: list[Any] | None = None,
                 max_iterations: int | None = None, max_execution_time: float | None = None,
                 max_messages_in_short_term_memory: int | None = 1000,
                 max_tokens_in_short_term_memory: int | None = 100000,
                 enable_ask_for_user_input: bool = False, exposed_as: str | None = None,
                 context_template: Any = None, enable_long_term_memory: bool = False, framework: str = "",
                 subagents: Any = None) -> None:
        if not isinstance(instructions, str):
            raise TypeError(f"Agent {name!r}: instructions must be a string, not {type(instructions).__name__}")
        if max_iterations is not None and (not isinstance(max_iterations, int) or max_iterations < 1):
            raise ValueError(f"Agent {name!r}: max_iterations must be a positive integer, not {max_iterations!r}")
        if max_execution_time is not None and not max_execution_time > 0:
            raise ValueError(f"Agent {name!r}: max_execution_time must be positive seconds, not {max_execution_time!r}")
        self.node = node
        self.name = name
        self.instructions = instructions
        self.model = model
        self.tools, self.factories = prepare_tools(tools, node)
        # The node's conversation store (SQLite in the pod's data dir, PostgreSQL, or none; see
        # autonomy.memory.config), shared by its agents; at most cached_conversations() stay in RAM.
        # enable_long_term_memory (upstream's) gives a standalone node a SQLite store too.
        self.memory = Memory(max_messages_in_short_term_memory, max_tokens_in_short_term_memory,
                             store=store_for(node, long_term=enable_long_term_memory),
                             max_cached_conversations=cached_conversations())
        self.max_iterations = max_iterations or DEFAULT_MAX_ITERATIONS
        self.max_execution_time = float(max_execution_time or DEFAULT_MAX_EXECUTION_TIME)
        self.enable_ask_for_user_input = enable_ask_for_user_input
        self.exposed_as = exposed_as
        self.context_template = context_template
        self.framework = framework  # framework instructions added to the system message (files, subagents)
        self.subagents = subagents
        self._shared_specs: list[tuple[str, Any, dict[str, Any]]] | None = None
        self._system: dict[str, Any] | None = None
        # message text -> its parsed JSON, from routing it to a conversation until its worker decodes it
        self._decoded: dict[str, Any] = {}

    # ---- messages: parsed once -----------------------------------------------------------------

    def conversation_key(self, message: str) -> str | None:
        """:func:`key_extractor`, keeping the parsed message for :meth:`decode` (the spawner's routing
        and the worker's decoding parse it once, not twice: ~2% of a remote turn)."""
        try:
            data = json.loads(message)
        except ValueError:
            return None
        decoded = self._decoded
        if len(decoded) >= _DECODED_KEPT:  # messages routed but never decoded (their worker stopped)
            decoded.clear()
        decoded[message] = data
        return _key_of(data)

    def decode(self, message: str) -> AgentMessage:
        """``from_json(message)``, from the JSON parsed while routing it when there is one. Raises
        InvalidMessage."""
        data = self._decoded.pop(message, _UNPARSED)
        return from_json(message) if data is _UNPARSED else from_dict(data)

    # ---- what the loop uses -----------------------------------------------------------------

    def get_model(self) -> Any:
        """The agent's model; the default one is created here, at the first turn."""
        if self.model is None:
            try:
                from autonomy.models import Model
            except ImportError as exc:
                raise AgentError(f"Agent {self.name!r} has no model and autonomy.models is unavailable "
                                 f"({exc}): pass model=... to Agent.start", self.name) from exc
            self.model = Model(DEFAULT_MODEL)
        return self.model

    def system_message(self) -> dict[str, Any]:
        if self._system is None:
            self._system = system_message(self.instructions, self.enable_ask_for_user_input)
            if self.framework:
                self._system["content"] += "\n\n" + self.framework
        return self._system

    async def build_context(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        """The messages the model sees for the conversation ``key`` (OpenAI dicts): the agent's
        context template, or its instructions followed by the conversation's history."""
        if self.context_template is None:
            # each message's OpenAI form is made once and kept by the memory, not remade every turn
            return [self.system_message(), *self.memory.converted_nowait(*key, message_to_openai)]
        params = {"agent_name": self.name, "model": self.get_model()}
        built = await self.context_template.build_context(self.memory, key[0], key[1], params)
        return [message_to_openai(m) for m in built]

    async def _specs(self, tools: Any) -> list[tuple[str, Any, dict[str, Any]]]:
        out = []
        for tool in tools:
            spec = await tool.spec()
            out.append((_tool_name(tool, spec), tool, spec))
        return out

    async def tools_for(self, scope: str, conversation: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Tools of one conversation worker: built-ins, shared tools (specs fetched once per agent),
        and the tools its factories make for ``(scope, conversation)``. Returns (by name, specs)."""
        if self._shared_specs is None:
            self._shared_specs = await self._specs([*builtin_tools(self.enable_ask_for_user_input), *self.tools])
        entries = list(self._shared_specs)
        for factory in self.factories:
            made = factory.create_tools(scope or "default", conversation or "default", agent_name=self.name)
            if asyncio.iscoroutine(made):
                made = await made
            made_shared, _ = prepare_tools(list(made), self.node)
            entries.extend(await self._specs(made_shared))
        by_name: dict[str, Any] = {}
        specs: list[dict[str, Any]] = []
        for name, tool, spec in entries:
            if name in by_name:
                logger.warning("agent %r: two tools are named %r; the first one is used", self.name, name)
                continue
            by_name[name] = tool
            specs.append(spec)
        return by_name, specs

    def create_worker(self, scope: str, conversation: str) -> ConversationWorker:
        """The spawner's factory: a worker for one conversation key."""
        return ConversationWorker(self)

    # ---- the upstream API -------------------------------------------------------------------

    @staticmethod
    async def start(node: Any, instructions: str, name: str | None = None, model: Any = None, voice: Any = None,
                    tools: list[Any] | None = None, context_template: Any = None, max_iterations: int | None = None,
                    max_execution_time: float | None = None, context_summary: Any = None,
                    max_messages_in_short_term_memory: int = 1000, max_tokens_in_short_term_memory: int = 100000,
                    enable_long_term_memory: bool = False, enable_ask_for_user_input: bool = False,
                    enable_filesystem: bool = False, filesystem_visibility: str = "conversation",
                    subagents: Any = None, subagent_runner_filter: Any = None, exposed_as: str | None = None,
                    timeout: float | None = None, **kwargs: Any) -> AgentReference:
        """Start an agent named ``name`` (random when None; ``[a-zA-Z0-9_-]+``) on ``node``.

        Returns once the agent can receive messages. ``timeout`` (seconds) bounds the start
        (AgentStartTimeoutError). Upstream's ``max_active_messages``/``max_active_tokens`` are
        accepted as the short-term memory limits. ``context_template`` (a ContextTemplate) and
        ``context_summary`` (True or a ContextSummaryConfig dict) are exclusive; ``subagents`` maps
        roles to SubagentConfig dicts (docs/upstream.md). ``voice`` (a VoiceConfig dict) serves the agent
        at the node's ``/agents/{name}/voice`` WebSocket (docs/voice.md).
        """
        for key, value in kwargs.items():
            if key in _LATER and value:
                raise NotImplementedError(f"Agent.start({key}=...): {_LATER[key]}")
        max_messages_in_short_term_memory = kwargs.pop("max_active_messages", None) or max_messages_in_short_term_memory
        max_tokens_in_short_term_memory = kwargs.pop("max_active_tokens", None) or max_tokens_in_short_term_memory
        unknown = [k for k in kwargs if k not in _LATER]
        if unknown:
            raise TypeError(f"Agent.start() got unexpected keyword arguments: {', '.join(unknown)}")
        name = validate_address(name if name is not None else secrets.token_hex(12), "agent")
        if voice is not None and voice is not False:
            from autonomy.agents.voice import check_voice_config

            voice = check_voice_config(voice)  # refused before anything starts
        tools = list(tools or [])
        if enable_filesystem:
            from autonomy.tools.filesystem import FilesystemTools

            tools.insert(0, FilesystemTools(visibility=filesystem_visibility))
        if not hasattr(node, "start_spawner") and hasattr(node, "start_agent"):  # a RemoteNode
            start = node.start_agent(
                instructions, name=name, model=model, tools=tools, exposed_as=exposed_as,
                max_iterations=max_iterations, max_execution_time=max_execution_time,
                max_messages_in_short_term_memory=max_messages_in_short_term_memory,
                max_tokens_in_short_term_memory=max_tokens_in_short_term_memory,
                enable_ask_for_user_input=enable_ask_for_user_input, context_template=context_template,
                context_summary=context_summary, enable_long_term_memory=enable_long_term_memory,
                subagents=subagents, subagent_runner_filter=subagent_runner_filter)
        else:
            from autonomy.agents.setup import context_setup, subagents_setup

            framework, configs = "", None
            if subagents:
                configs = subagents_setup(subagents, subagent_runner_filter)
            template, messages_limit, tokens_limit = context_setup(
                instructions, context_template, context_summary, max_messages_in_short_term_memory,
                max_tokens_in_short_term_memory, enable_ask_for_user_input, enable_filesystem,
                filesystem_visibility, configs)
            if template is None:
                framework = framework_text(enable_filesystem, filesystem_visibility, configs)
            agent = Agent(node, name, instructions, model, tools, max_iterations, max_execution_time,
                          messages_limit, tokens_limit,
                          enable_ask_for_user_input, exposed_as, template, enable_long_term_memory, framework)
            if configs:
                from autonomy.agents.subagents import Subagents

                agent.subagents = Subagents(agent, configs, subagent_runner_filter)
                agent.tools.extend(agent.subagents.tools())
            start = node.start_spawner(name, agent.create_worker, agent.conversation_key, None, exposed_as,
                                       max_idle_workers=agent.memory.max_cached_conversations)
            warn_if_no_model(node, name, model, DEFAULT_MODEL)
        try:
            started = await (asyncio.wait_for(start, timeout) if timeout is not None else start)
        except TimeoutError:
            raise AgentStartTimeoutError(timeout, name) from None
        reference = AgentReference(started if isinstance(started, str) else name, node, exposed_as)
        if voice is not None and voice is not False:
            from autonomy.agents.voice import register_voice

            register_voice(node, reference.name, reference, voice)
        return reference

    @staticmethod
    async def start_many(node: Any, instructions: str, number_of_agents: int, model: Any = None,
                         tools: list[Any] | None = None, **kwargs: Any) -> list[AgentReference]:
        """Start ``number_of_agents`` agents with random names and the same configuration.

        Our decision: the default model is the same as :meth:`start`'s (upstream's
        ``claude-3-5-sonnet-v2`` is in no alias table)."""
        if not isinstance(number_of_agents, int) or number_of_agents < 0:
            raise ValueError(f"Agent.start_many: number_of_agents must be a non-negative integer, "
                             f"not {number_of_agents!r}")
        for key in ("name", "exposed_as", "voice", "subagents"):
            if kwargs.get(key):
                raise TypeError(f"Agent.start_many() does not take {key!r}: use Agent.start for that")
        return [await Agent.start(node, instructions, model=model, tools=tools, **kwargs)
                for _ in range(number_of_agents)]

    @staticmethod
    async def start_from_config(node: Any, config: dict[str, Any]) -> AgentReference:
        """``Agent.start(node, **config)``; ``config["instructions"]`` is required (KeyError)."""
        config = dict(config)
        instructions = config.pop("instructions")
        return await Agent.start(node, instructions, **config)

    @staticmethod
    async def start_many_from_config(node: Any, config: dict[str, Any]) -> list[AgentReference]:
        config = dict(config)
        instructions, number = config.pop("instructions"), config.pop("number_of_agents")
        return await Agent.start_many(node, instructions, number, **config)

    @staticmethod
    async def stop(node: Any, name: str, timeout: float | None = None, raise_on_timeout: bool = False) -> None:
        """Stop the agent ``name`` and all its conversation workers (their pending requests fail).

        When ``timeout`` expires: AgentStopTimeoutError if ``raise_on_timeout``, else a warning.
        The agent's running subagents are stopped with it."""

        from autonomy.agents.voice import unregister_voice

        unregister_voice(node, name)

        async def stop() -> None:
            spawner = getattr(node, "_agents", {}).get(name)  # a local agent: its Agent is the factory's owner
            agent = getattr(getattr(spawner, "factory", None), "__self__", None)
            if isinstance(agent, Agent) and agent.subagents is not None:
                await agent.subagents.cleanup()
            await node.stop_worker(name)

        try:
            await (asyncio.wait_for(stop(), timeout) if timeout is not None else stop())
        except TimeoutError:
            if raise_on_timeout:
                raise AgentStopTimeoutError(timeout, name) from None
            logger.warning("Agent.stop(%r) did not finish within %ss", name, timeout)

    def __repr__(self) -> str:
        return f"<Agent {self.name!r}>"
