import asyncio
import contextlib
import json

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from autonomy import HttpServer, Node, NodeDep, Zone
from autonomy.errors import AutonomyError, DeliveryError, WorkerNotFound


class Squarer:
    """Shipped by value to every runner node (this class exists only here, in __main__)."""

    async def handle_message(self, context, message):
        for number in json.loads(message):
            await context.reply(json.dumps({"n": number, "square": number * number, "node": self.node.name}))
        await context.reply("done")


app = FastAPI()
runners = []  # the runner nodes that got a Squarer
ready = asyncio.Event()  # set once main() has shipped the workers


async def ship(runner):
    """Start the squarer on ``runner``, replacing one already there: idempotent, so a restarted main
    re-ships over its previous run's copy (no "'squarer' already in use"), and a restarted runner,
    which lost its workers, gets a new one."""
    with contextlib.suppress(AutonomyError):
        await runner.stop_worker("squarer")
    await runner.start_worker("squarer", Squarer())


async def square_on(node, runner, numbers):
    """The results of ``numbers`` squared on ``runner``; re-ships the squarer once if the runner lost it."""
    for attempt in (1, 2):
        results = []
        mailbox = await node.send("squarer", json.dumps(numbers), node=runner.name)
        try:
            while (reply := await mailbox.receive(timeout=30)) != "done":
                results.append(json.loads(reply))
            return results
        except WorkerNotFound:  # the runner restarted (a new incarnation without our worker)
            if attempt == 2:
                raise
            await ship(runner)


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
    if len(runners) < 3:  # one was restarting at the last refresh: look again
        await refresh(node)
    if not runners:
        return JSONResponse({"error": "no runner node joined the zone"}, status_code=503)
    numbers = list(range(1, upto + 1))
    try:
        shares = await asyncio.gather(*(square_on(node, runner, numbers[i :: len(runners)])
                                        for i, runner in enumerate(runners)))
    except DeliveryError as exc:  # a runner left (NodeLeft) or is restarting: the caller may retry at once
        await refresh(node)
        return JSONResponse({"error": f"a runner went away ({exc}); retry"}, status_code=503)
    results = [r for share in shares for r in share]
    return {"runners": sorted(r.name for r in runners), "results": sorted(results, key=lambda r: r["n"])}


async def refresh(node):
    """Find the runners again and ship the squarer to each (after a runner left or restarted)."""
    found = await Zone.nodes(node, filter="runner")
    for runner in found:
        with contextlib.suppress(AutonomyError):
            await ship(runner)
    runners[:] = found


async def main(node):
    for runner in await wait_for_runners(node):
        await ship(runner)
        runners.append(runner)
    ready.set()
    print(f"fanout ready on {node.name} with {len(runners)} runners", flush=True)


Node.start(main, http_server=HttpServer(app=app))
