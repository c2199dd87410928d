// The webui example's UI: a page on the pod's public port, and /api/hello, which calls the Python node
// beside it over the pod's shared localhost (NODE_URL). Only Node.js's standard library: no npm.
"use strict";
const http = require("http");
const fs = require("fs");
const path = require("path");

// DEFAULT_PORT_HTTP is the pod's public port the runtime gives every container; PORT as upstream's Next.js.
const port = Number(process.env.DEFAULT_PORT_HTTP || process.env.PORT || 8000);
const nodeUrl = new URL(process.env.NODE_URL || "http://127.0.0.1:8001");
// Apps may write beside their code (Next.js writes .next/cache): the app directory is the container's own.
const visits = path.join(__dirname, "visits.log");

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Autonomy web UI</title></head>
<body>
<h1>Autonomy web UI</h1>
<p id="answer">asking the Python node...</p>
<script>
fetch("api/hello?name=browser").then(r => r.json())
  .then(a => { document.getElementById("answer").textContent = a.node.greeting + " (from " + a.node.node + ")"; })
  .catch(e => { document.getElementById("answer").textContent = "the node did not answer: " + e; });
</script>
</body></html>
`;

function askNode(name) {
  return new Promise((resolve, reject) => {
    const url = new URL("/hello", nodeUrl);
    url.searchParams.set("name", name);
    const request = http.get(url, { timeout: 10000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => { body += chunk; });
      response.on("end", () => {
        if (response.statusCode !== 200) return reject(new Error(`the node answered ${response.statusCode}`));
        try { resolve(JSON.parse(body)); } catch (e) { reject(e); }
      });
    });
    request.on("timeout", () => request.destroy(new Error("the node did not answer within 10 s")));
    request.on("error", reject);
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://ui");
  if (url.pathname === "/" || url.pathname === "/index.html") {
    fs.appendFile(visits, `${new Date().toISOString()}\n`, () => {});
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end(page);
  }
  if (url.pathname === "/api/hello") {
    try {
      const answer = await askNode(url.searchParams.get("name") || "world");
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ ui: `node.js ${process.version}`, node: answer }));
    } catch (error) {
      res.writeHead(502, { "content-type": "application/json" });
      return res.end(JSON.stringify({ message: `the Python node did not answer: ${error.message}` }));
    }
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ message: `no page ${url.pathname}` }));
});

server.listen(port, "0.0.0.0", () => console.log(`ui on :${port}, the node at ${nodeUrl}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
