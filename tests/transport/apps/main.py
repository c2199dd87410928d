"""An upstream-style main node: finds its runners, ships them a worker class defined here (in
``__main__``), and delegates work to them. Prints one ``RESULT {json}`` line."""

import asyncio
import json
import os

from autonomy import Node, WorkerNotFound, Zone


class Progress:
    """Reports each step of a job as a separate reply (multi-reply, like upstream's code-review example)."""

    def __init__(self, label):
        self.label = label
        self.node = None

    async def handle_message(self, context, message):
        steps = int(message)
        for i in range(steps):
            await context.reply(json.dumps({"label": self.label, "step": i, "node": self.node.name}))


async def echo(runner):
    """The runner's own "echo" worker: its main() may still be starting it just after it joined."""
    for _ in range(200):
        try:
            return await runner.send_and_receive("echo", "ping", timeout=10)
        except WorkerNotFound:
            await asyncio.sleep(0.05)
    raise SystemExit(f"no echo worker on {runner.name}")


async def main(node):
    expected = int(os.environ["EXPECT_RUNNERS"])
    deadline = asyncio.get_running_loop().time() + 30
    while len(runners := await Zone.nodes(node, filter="runner")) < expected:
        if asyncio.get_running_loop().time() > deadline:
            raise SystemExit(f"only found {[r.name for r in runners]}")
        await asyncio.sleep(0.05)
    result = {"runners": [r.name for r in runners], "echo": {}, "first": {}, "streams": {}}
    for runner in runners:
        await runner.start_worker("progress", Progress("job"))
        result["echo"][runner.name] = await echo(runner)
        result["first"][runner.name] = json.loads(await node.send_and_receive("progress", "3", node=runner.name,
                                                                              timeout=10))
    mailboxes = {runner.name: await node.send("progress", "20", node=runner.name) for runner in runners}
    for name, mailbox in mailboxes.items():
        result["streams"][name] = [json.loads(await mailbox.receive(timeout=10))["step"] for _ in range(20)]
    result["workers"] = {r.name: await r.list_workers() for r in runners}
    print("RESULT " + json.dumps(result), flush=True)


Node.start(main, wait_until_interrupted=False)
