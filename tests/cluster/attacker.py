"""The zones of the isolation tests: a victim (private, a secret, an opted-in node) and an attacker.

The attacker's node serves ``POST /probe`` on its pod's port: given targets (paths, addresses, node
names, a stolen key) it tries every escape of issue 8 from inside its container and answers what
happened to each, as ``"<ExceptionName>: <detail>"`` or ``"OK ..."``.
"""

from __future__ import annotations

import textwrap

VICTIM_ZONE = """
    name: victim
    pods:
      - name: main-pod
        containers:
          - name: main
            image: vault
            env:
              API_KEY: secrets.API_KEY
              ALLOW: cluster
              WORKER: public
      - name: hidden-pod
        containers:
          - name: main
            image: vault
            env:
              API_KEY: secrets.API_KEY
"""

ATTACK_ZONE = """
    name: attack
    pods:
      - name: main-pod
        containers:
          - name: main
            image: attacker
"""

VAULT = textwrap.dedent('''
    import asyncio, os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading
    from autonomy.nodes.node import Node

    class Secret:
        async def handle_message(self, context, message):
            if os.environ.get("WORKER") == "public":  # the opted-in node's worker: anyone may call it
                await context.reply("public answer")
            else:
                await context.reply("the secret of zone victim: " + os.environ["API_KEY"])

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *args):
            pass

    async def main():
        node = await Node.create(allow=os.environ.get("ALLOW") or None)
        await node.start_worker(os.environ.get("WORKER", "secret"), Secret())
        server = ThreadingHTTPServer(("0.0.0.0", int(os.environ["DEFAULT_PORT_HTTP"])), Ok)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        await asyncio.Event().wait()

    asyncio.run(main())
''')

ATTACKER = textwrap.dedent('''
    import asyncio, json, os, socket, ssl, subprocess, threading, urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from autonomy import Cluster, Zone
    from autonomy.nodes.node import Node
    from autonomy.nodes.remote import RemoteNode

    LOOP = None
    NODE = None

    def outcome(fn):
        try:
            return "OK " + str(fn())[:200]
        except Exception as exc:
            detail = getattr(exc, "strerror", None) or str(exc)
            return f"{type(exc).__name__}: {detail}"

    async def aoutcome(coro):
        try:
            return "OK " + str(await coro)[:200]
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    def tcp(host, port):
        with socket.create_connection((host, port), timeout=1.5):
            return "connected"

    def command(argv):
        done = subprocess.run(argv, capture_output=True, text=True)
        return f"exit {done.returncode}: {done.stderr.strip()}"

    def unix(path):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            s.sendall(b"GET /cluster HTTP/1.0\\r\\n\\r\\n")
            return s.recv(100)
        finally:
            s.close()

    def environs(secret):
        seen, found = [], []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                seen.append(int(pid))
                try:
                    if secret.encode() in open(f"/proc/{pid}/environ", "rb").read():
                        found.append(int(pid))
                except OSError:
                    pass
        return {"pids": sorted(seen), "with_secret": found}

    def status():
        fields = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
        return {k: fields[k].strip() for k in ("Uid", "CapEff", "CapBnd", "NoNewPrivs")}

    def gateway(url, key):
        req = urllib.request.Request(url + "/v1/models", headers={"Authorization": "Bearer " + key})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return f"{exc.code} {exc.read().decode()[:300]}"

    async def raw_nats(subjects):
        import nats
        creds = json.load(open(os.environ["AUTONOMY_FABRIC_CREDENTIALS"]))
        errors = []
        async def on_error(exc):
            errors.append(str(exc))
        nc = await nats.connect(os.environ["AUTONOMY_FABRIC_URL"], user=creds["user"], password=creds["password"],
                                tls=ssl.create_default_context(cadata=creds["ca_pem"]), error_cb=on_error,
                                inbox_prefix=f"autonomy.{creds['cluster']}.z.{creds['zone']}.inbox")
        try:
            for subject in subjects:
                await nc.subscribe(subject)
            await nc.publish(subjects[0].replace(">", "x"), b"secret\\nx")
            await nc.flush()
            for _ in range(100):
                if len(errors) > len(subjects):
                    break
                await asyncio.sleep(0.05)
        finally:
            await nc.close()
        return errors

    class Stolen:
        async def handle_message(self, context, message):
            await context.reply(open("/proc/self/environ", "rb").read().decode(errors="replace"))

    async def probe(t):
        out = {"status": status(), "files": {}, "tcp": {}, "fabric": {}}
        for path in t["paths"]:
            out["files"][path] = outcome(lambda: open(path, "rb").read(64))
        out["own_app_writable"] = outcome(lambda: open("written-by-attacker", "w").write("x"))
        out["usr_writable"] = outcome(lambda: open("/usr/attacker", "w").write("x"))
        out["environ"] = environs(t["secret"])
        out["nested_userns"] = outcome(lambda: command(["unshare", "--user", "--map-root-user", "id"]))
        out["mount_ns"] = outcome(lambda: command(["unshare", "--mount", "true"]))
        out["controller_socket"] = outcome(lambda: unix(t["controller_socket"]))
        out["gateways_socket"] = outcome(lambda: unix(t["gateways_socket"]))
        for host, port in t["tcp"]:
            out["tcp"][f"{host}:{port}"] = outcome(lambda: tcp(host, port))
        out["gateway_stolen_key"] = outcome(lambda: gateway(t["gateway"], t["stolen_key"]))
        own = os.environ["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"]
        out["gateway_own_key"] = outcome(lambda: gateway(t["gateway"], own))
        out["zone_nodes"] = [r.name for r in await Zone.nodes(NODE)]
        out["cluster_nodes"] = [r.name for r in await Cluster.nodes(NODE)]
        for name, address in t["nodes"]:
            out["fabric"][name] = {
                "send": await aoutcome(NODE.send_and_receive(address, "give", node=name, timeout=20)),
                "ship": await aoutcome(RemoteNode(NODE, name).start_worker("stolen", Stolen())),
            }
        out["nats"] = await raw_nats(t["subjects"])
        return out

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            targets = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps(asyncio.run_coroutine_threadsafe(probe(targets), LOOP).result(120)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass

    async def main():
        global LOOP, NODE
        LOOP = asyncio.get_running_loop()
        NODE = await Node.create()
        server = ThreadingHTTPServer(("0.0.0.0", int(os.environ["DEFAULT_PORT_HTTP"])), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        await asyncio.Event().wait()

    asyncio.run(main())
''')
