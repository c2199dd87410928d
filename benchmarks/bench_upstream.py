"""Upstream-parity features on the agent hot path: what a context template, a summary section and
per-conversation filesystem tools cost per turn.

    .venv/bin/python -m benchmarks.bench_upstream        (or: python -m benchmarks.run upstream)

In-process turns (``AgentReference.send``) against an instant model, over many conversations of a
few messages each. Baseline measured in the same run: the same agent with neither (the default
path: instructions, then the history). Best of 3 rounds.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from typing import Any

from autonomy import FilesystemTools, Node
from autonomy.agents import Agent
from autonomy.agents.context import ContextTemplate, ConversationHistorySection, SystemInstructionsSection
from benchmarks.bench_agents import InstantModel

CONVERSATIONS = 200
MESSAGES = 5
ROUNDS = 3


async def _turns(node: Node, **kwargs: Any) -> float:
    agent = await Agent.start(node, "You answer ok.", model=InstantModel(), **kwargs)

    async def conversation(i: int) -> None:
        for _ in range(MESSAGES):
            await agent.send("hi", scope="s", conversation=str(i))

    started = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(CONVERSATIONS)))
    elapsed = time.perf_counter() - started
    await Agent.stop(node, agent.name)
    return CONVERSATIONS * MESSAGES / elapsed


async def main() -> None:
    base = tempfile.mkdtemp(prefix="bench-files-")
    cases = {
        "default (baseline)": lambda: {},
        "context_template (instructions + history)": lambda: {"context_template": ContextTemplate(
            [SystemInstructionsSection([{"role": "system", "content": "You answer ok."}]),
             ConversationHistorySection()])},
        "context_summary=True": lambda: {"context_summary": True},
        "FilesystemTools per conversation": lambda: {"tools": [FilesystemTools(base_dir=base)]},
    }
    best: dict[str, float] = {}
    async with Node.open("bench-upstream") as node:
        for _ in range(ROUNDS):
            for name, kwargs in cases.items():
                best[name] = max(best.get(name, 0.0), await _turns(node, **kwargs()))
    baseline = best["default (baseline)"]
    print("## Upstream-parity features on the agent hot path\n")
    print(f"{CONVERSATIONS} conversations x {MESSAGES} turns, in process, instant model; best of {ROUNDS}.\n")
    print("| agent | turns/s | ratio to default |")
    print("|---|---|---|")
    for name, rate in best.items():
        print(f"| {name} | {rate:,.0f} | {rate / baseline:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
