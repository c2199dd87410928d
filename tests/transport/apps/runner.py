"""A bare runner node, as a runner image would be, plus two workers for the tests."""

import asyncio

from autonomy import Node


class Sleeper:
    """Never replies: requests to it wait until the node goes away. ``entered`` counts them (a handshake)."""

    entered = 0

    async def handle_message(self, context, message):
        Sleeper.entered += 1
        await asyncio.sleep(3600)


class Entered:
    """Replies how many requests the sleeper has taken, so a test knows one is in progress."""

    async def handle_message(self, context, message):
        await context.reply(str(Sleeper.entered))


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"echo:{message}")


async def main(node):
    await node.start_worker("sleeper", Sleeper())
    await node.start_worker("echo", Echo())
    await node.start_worker("entered", Entered())


Node.start(main)
