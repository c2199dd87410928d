"""The system namespace's model gateway entry point, fed the files its rendered Secret holds."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx

from autonomy.cluster.kubernetes import gateway_main
from autonomy.cluster.kubernetes.fabric import zone_gateway_key, zone_user
from autonomy.cluster.kubernetes.system import render_system
from autonomy.gateway import GatewayConfig, ProviderConfig
from autonomy.transport.credentials import ClusterCredentials
from tests.kubernetes.support import CLUSTER_ID, cluster


def write_secret(directory, creds, zones, config) -> None:
    docs = render_system(cluster(), creds, [zone_user(creds, z, []) for z in zones], config.to_dict())
    secret = next(d for d in docs if d["metadata"]["name"] == "model-gateway-config")
    for name, value in secret["data"].items():
        (directory / name).write_bytes(base64.b64decode(value))


async def test_zone_keys_are_accepted_and_reloaded_without_a_restart(tmp_path, fake_llm, monkeypatch):
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", fake_llm.api_key)
    monkeypatch.setattr(gateway_main, "RELOAD_SECONDS", 0.0)
    creds = ClusterCredentials.generate(CLUSTER_ID)
    config = GatewayConfig((ProviderConfig(name="fake", kind="openai", url=fake_llm.base_url,
                                           api_key_env="FAKE_UPSTREAM_KEY", default=True),))
    write_secret(tmp_path, creds, ["fanout"], config)
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(gateway_main.serve(tmp_path, "127.0.0.1", 0, started.set_result, stop))
    try:
        url = await asyncio.wait_for(started, 60)
        body = {"model": "any", "messages": [{"role": "user", "content": "hi"}]}

        async def ask(zone: str) -> int:
            headers = {"Authorization": f"Bearer {zone_gateway_key(creds, zone)}"}
            async with httpx.AsyncClient(timeout=30) as http:
                return (await http.post(f"{url}/v1/chat/completions", json=body, headers=headers)).status_code

        assert await ask("fanout") == 200
        assert await ask("hello") == 401
        write_secret(tmp_path, creds, ["fanout", "hello"], config)  # a zone deployed later
        assert await ask("hello") == 200
        assert json.loads((tmp_path / "config.json").read_text())["providers"][0]["name"] == "fake"
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
