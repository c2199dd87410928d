"""A code reviewer, written against upstream's API: it keeps notes in its files and delegates one check
per file to subagents, which run in parallel on the zone's runner nodes."""

import os

from autonomy import Agent, Model, Node, Tool


def which_node() -> str:
    """The name of the node this agent runs on."""
    return os.environ.get("NODE", "unknown")


async def main(node):
    await Agent.start(
        node=node,
        name="reviewer",
        instructions="You review code. Delegate one check per file to your checkers, in parallel, then "
        "write a summary to /review.md.",
        model=Model("claude-sonnet-4-v1"),
        enable_filesystem=True,
        subagents={"checker": {"instructions": "You check one file. Say on which node you ran.",
                               "tools": [Tool(which_node)]}},
        subagent_runner_filter="runner",
    )


Node.start(main)
