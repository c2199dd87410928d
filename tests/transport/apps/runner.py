"""A bare runner node, as a runner image would be, plus two workers for the tests."""

import asyncio

from autonomy import Node


class Sleeper:
    """Never replies: requests to it wait until the node goes away."""

    async def handle_message(self, context, message):
        await asyncio.sleep(3600)


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"echo:{message}")


async def main(node):
    await node.start_worker("sleeper", Sleeper())
    await node.start_worker("echo", Echo())


Node.start(main)
