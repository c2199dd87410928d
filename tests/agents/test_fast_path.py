"""The agent turn's fast path (autonomy/agents/fast_path.py) answers as the FastAPI route would, and
steps aside when the user's app has its own /agents routes. (The agents' HTTP behaviour itself is
tested through it by test_http.py: it serves every POST /agents/{name} there.)"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from autonomy import HttpServer, Node
from autonomy.agents import Agent
from autonomy.agents.fast_path import AgentTurnFastPath


def _installed(app: FastAPI) -> bool:
    return any(m.cls is AgentTurnFastPath for m in app.user_middleware)


async def test_a_user_route_under_agents_wins_over_the_fast_path(model):
    app = FastAPI()

    @app.post("/agents/{name}")
    async def mine(name: str) -> dict[str, str]:
        return {"mine": name}

    async with Node.open("custom", http_server=HttpServer("127.0.0.1:0", app=app)) as node:
        await Agent.start(node, "x", name="henry", model=model)
        assert not _installed(app)
        host, port = node.http_server.address
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
            assert (await http.post("/agents/henry", json={"message": "hi"})).json() == {"mine": "henry"}


async def test_the_fast_path_serves_turns_and_leaves_other_agent_routes_to_the_app(node, http, model):
    assert _installed(node.http_server.build_app(node))
    await Agent.start(node, "x", name="henry", model=model)
    turn = await http.post("/agents/henry", json={"message": "hi", "scope": "s", "conversation": "c"})
    assert turn.status_code == 200 and turn.json()[-1]["content"]["text"] == "echo: hi"
    assert (await http.post("/agents/nobody", json={"message": "hi"})).status_code == 404
    assert (await http.post("/agents/henry", content=b"{not json")).status_code == 400
    assert (await http.post("/agents/henry?timeout=-1", json={"message": "hi"})).status_code == 422
    assert (await http.get("/agents/henry")).json()["name"] == "henry"  # not a POST: the app's route
