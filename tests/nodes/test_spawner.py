"""Spawners: one worker per conversation key behind one agent name."""

from __future__ import annotations

import asyncio
import json

from autonomy import Node


def key_of(message: str) -> str | None:
    data = json.loads(message)
    scope, conversation = data.get("scope"), data.get("conversation")
    return f"{scope}/{conversation}" if scope and conversation else None


class ConversationWorker:
    created: list[tuple[str, str]] = []

    def __init__(self, scope, conversation):
        self.scope = scope
        self.conversation = conversation
        self.history = []
        ConversationWorker.created.append((scope, conversation))

    async def handle_message(self, context, message):
        self.history.append(json.loads(message)["text"])
        await asyncio.sleep(0.001)
        await context.reply(json.dumps({"scope": self.scope, "history": self.history}))


def msg(text, scope="", conversation=""):
    return json.dumps({"text": text, "scope": scope, "conversation": conversation})


async def test_each_conversation_gets_its_own_worker_and_keeps_order():
    ConversationWorker.created = []
    async with Node.open() as node:
        await node.start_spawner("henry", ConversationWorker, key_of)
        r1 = json.loads(await node.send_and_receive("henry", msg("a", "alice", "c1")))
        r2 = json.loads(await node.send_and_receive("henry", msg("b", "alice", "c1")))
        r3 = json.loads(await node.send_and_receive("henry", msg("x", "bob", "c1")))
        assert r1["history"] == ["a"]
        assert r2["history"] == ["a", "b"]
        assert r3 == {"scope": "bob", "history": ["x"]}
        assert ConversationWorker.created == [("alice", "c1"), ("bob", "c1")]
        agents = await node.list_agents()
        assert agents == [{"name": "henry", "is_remote": False, "description": None,
                           "workers": ["henry/alice/c1", "henry/bob/c1"]}]
        workers = await node.list_workers()
        assert {"name": "henry/alice/c1", "started_by_agent": "henry"} in workers


async def test_messages_without_a_key_go_to_the_default_worker():
    ConversationWorker.created = []
    async with Node.open() as node:
        await node.start_spawner("henry", ConversationWorker, key_of)
        await node.send_and_receive("henry", msg("a"))
        reply = json.loads(await node.send_and_receive("henry", msg("b")))
        assert reply["history"] == ["a", "b"]
        assert ConversationWorker.created == [("default", "default")]
        assert (await node.list_agents())[0]["workers"] == ["henry"]


async def test_conversations_run_in_parallel_and_each_stays_ordered():
    async with Node.open() as node:
        await node.start_spawner("henry", ConversationWorker, key_of, exposed_as="Henry answers")
        sends = [node.send_and_receive("henry", msg(str(i), "s", f"c{i % 10}")) for i in range(100)]
        replies = [json.loads(r) for r in await asyncio.gather(*sends)]
        for i, reply in enumerate(replies):
            expected = [str(j) for j in range(i % 10, i + 1, 10)]
            assert reply["history"] == expected
        assert (await node.list_agents())[0]["description"] == "Henry answers"


async def test_async_factories_are_awaited():
    async def factory(scope, conversation):
        await asyncio.sleep(0)
        return ConversationWorker(scope, conversation)

    async with Node.open() as node:
        await node.start_spawner("async-agent", factory, key_of)
        reply = json.loads(await node.send_and_receive("async-agent", msg("hi", "s", "c")))
        assert reply == {"scope": "s", "history": ["hi"]}


async def test_stopping_an_agent_stops_its_conversation_workers():
    async with Node.open() as node:
        await node.start_spawner("henry", ConversationWorker, key_of)
        await node.send_and_receive("henry", msg("a", "s", "c"))
        await node.stop_worker("henry")
        assert await node.list_agents() == []
        assert await node.list_workers() == []
        assert [a for a in node._routes if a.startswith("henry")] == []


async def test_messages_that_skip_the_spawner_keep_their_conversation_order():
    """Once a conversation's worker exists, its messages go straight to the worker's queue (no spawner
    task per message); those sent while the spawner is still making a worker wait behind it."""
    release = asyncio.Event()

    async def factory(scope, conversation):
        await release.wait()  # a slow creation: the spawner's queue fills meanwhile
        return ConversationWorker(scope, conversation)

    async with Node.open() as node:
        await node.start_spawner("henry", factory, key_of)
        first = [asyncio.ensure_future(node.send_and_receive("henry", msg(str(i), "s", "c"))) for i in range(20)]
        await asyncio.sleep(0)
        release.set()
        second = [node.send_and_receive("henry", msg(str(i), "s", "c")) for i in range(20, 40)]
        replies = [json.loads(r) for r in await asyncio.gather(*first, *second)]
        assert [r["history"][-1] for r in replies] == [str(i) for i in range(40)]
        third = await asyncio.gather(*(node.send_and_receive("henry", msg(str(i), "s", "c")) for i in range(40, 60)))
        assert json.loads(third[-1])["history"] == [str(i) for i in range(60)]
