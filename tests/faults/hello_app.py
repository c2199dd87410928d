"""A node serving ``GET /hello`` on DEFAULT_PORT_HTTP: the pod behind the public gateway in the load test."""

from fastapi import FastAPI

from autonomy import HttpServer, Node

app = FastAPI()


@app.get("/hello")
async def hello() -> dict:
    return {"hello": "world"}


async def main(node):
    print("READY", flush=True)


Node.start(main, http_server=HttpServer(app=app))
