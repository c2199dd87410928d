import asyncio
import json

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from autonomy import HttpServer, Node, NodeDep, Zone


class Squarer:
    """Shipped by value to every runner node (this class exists only here, in __main__)."""

    async def handle_message(self, context, message):
        for number in json.loads(message):
            await context.reply(json.dumps({"n": number, "square": number * number, "node": self.node.name}))
        await context.reply("done")


app = FastAPI()
runners = []  # the runner nodes that got a Squarer
ready = asyncio.Event()  # set once main() has shipped the workers


async def wait_for_runners(node, wanted=3, deadline=30.0):
    """The zone's runner clones, once `wanted` of them have joined (or whatever joined by the deadline)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        found = await Zone.nodes(node, filter="runner")
        if len(found) >= wanted or loop.time() > end:
            return found
        await asyncio.sleep(0.2)


@app.get("/squares")
async def squares(node: NodeDep, upto: int = 12):
    """Square 1..upto, spreading the numbers over the runners; each runner streams its results back."""
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
    except TimeoutError:
        return JSONResponse({"error": "the runners are not ready yet"}, status_code=503)
    if not runners:
        return JSONResponse({"error": "no runner node joined the zone"}, status_code=503)
    numbers = list(range(1, upto + 1))
    mailboxes = []
    for i, runner in enumerate(runners):
        mailboxes.append(await node.send("squarer", json.dumps(numbers[i :: len(runners)]), node=runner.name))
    results = []
    for mailbox in mailboxes:
        while (reply := await mailbox.receive(timeout=30)) != "done":
            results.append(json.loads(reply))
    return {"runners": sorted(r.name for r in runners), "results": sorted(results, key=lambda r: r["n"])}


async def main(node):
    for runner in await wait_for_runners(node):
        await runner.start_worker("squarer", Squarer())
        runners.append(runner)
    ready.set()
    print(f"fanout ready on {node.name} with {len(runners)} runners", flush=True)


Node.start(main, http_server=HttpServer(app=app))
