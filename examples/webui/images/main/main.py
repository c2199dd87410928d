"""The Python node of the webui example: its HTTP API on the pod's localhost only (port 8001).

The UI container beside it (images/ui) serves the pod's public port (8000) and calls this node over
the pod's shared localhost; nothing outside the pod reaches port 8001.
"""

import os

from fastapi import FastAPI

from autonomy import HttpServer, Node

app = FastAPI()


@app.get("/hello")
async def hello(name: str = "world"):
    return {"greeting": f"Hello, {name}!", "node": os.environ.get("NODE"), "zone": os.environ.get("ZONE")}


async def main(node):
    print("node", os.environ.get("NODE"), "serves 127.0.0.1:8001 for the UI", flush=True)


Node.start(main, http_server=HttpServer(app=app, listen_address="127.0.0.1:8001"))
