import asyncio
import json

from fastapi import FastAPI

from autonomy import HttpServer, Node, NodeDep, Zone


class Squarer:
    """Shipped by value to every runner node (this class lives in __main__ here only)."""

    async def handle_message(self, context, message):
        for number in json.loads(message):
            await context.reply(json.dumps({"n": number, "square": number * number, "node": self.node.name}))
        await context.reply("done")


app = FastAPI()


async def runners_of(node, wanted=3, deadline=30.0):
    """Wait until the zone's runner clones have joined, then return them."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        runners = await Zone.nodes(node, filter="runner")
        if len(runners) >= wanted or loop.time() > end:
            return runners
        await asyncio.sleep(0.2)


@app.get("/squares")
async def squares(node: NodeDep, upto: int = 12):
    runners = await runners_of(node)
    if not runners:
        return {"error": "no runner node has joined the zone yet"}
    numbers = list(range(1, upto + 1))
    mailboxes = []
    for i, runner in enumerate(runners):
        share = numbers[i :: len(runners)]
        mailboxes.append(await node.send("squarer", json.dumps(share), node=runner.name))
    results = []
    for mailbox in mailboxes:
        while (reply := await mailbox.receive(timeout=30)) != "done":
            results.append(json.loads(reply))
    return {"runners": sorted(r.name for r in runners), "results": sorted(results, key=lambda r: r["n"])}


async def main(node):
    for runner in await runners_of(node):
        await runner.start_worker("squarer", Squarer())
    print(f"fanout ready on {node.name}", flush=True)


Node.start(main, http_server=HttpServer(app=app))
