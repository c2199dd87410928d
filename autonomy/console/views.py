"""The console's pages and the live fragments htmx refreshes in them."""

from __future__ import annotations

import json
from typing import Any

from autonomy.console.nodes import NodeInventory
from autonomy.console.render import Html, e, link, live, page, state_badge, table

__all__ = ["cluster_page", "zone_page", "zones_fragment", "usage_fragment", "pods_fragment", "nodes_fragment",
           "conversations_fragment", "traces_fragment", "path_url"]


def path_url(port: int, zone: str) -> str:
    """The form of a zone's URL that works from any HTTP client (no ``*.localhost`` resolution needed)."""
    return f"http://127.0.0.1:{port}/z/{zone}/"


def cluster_page(cluster: dict[str, Any]) -> str:
    port = cluster.get("public_port")
    body = (
        '<section class="wide"><h2>Zones</h2>' + live("/fragments/zones") + "</section>"
        '<section class="wide"><h2>Model usage per provider and zone</h2>' + live("/fragments/usage", "3s")
        + "</section>"
        '<section class="wide"><h2>Cluster</h2>' + table(["", ""], [
            ("id", cluster.get("id")), ("network", cluster.get("network")),
            ("zone URLs", cluster.get("public_url_template")),
            ("or (any HTTP client)", f"http://127.0.0.1:{port}/z/ZONE/"),
            ("model providers", ", ".join(cluster.get("models") or []) or "none"),
        ], "") + "</section>")
    return page(f"cluster {cluster.get('id', '')[:8]}", body, [("/", "console")])


def zones_fragment(zones: list[dict[str, Any]], statuses: dict[str, dict[str, Any]], port: int) -> str:
    rows = []
    for z in zones:
        name = z.get("zone")
        status = statuses.get(str(name)) or {}
        pods = status.get("pods") or []
        containers = [c for p in pods for c in p.get("containers") or []]
        running = sum(1 for c in containers if c.get("state") == "running")
        restarts = sum(int(c.get("restarts") or 0) for c in containers)
        urls = Html("<br>".join(e(u) for u in (z.get("url"), path_url(port, str(name)) if z.get("url") else None) if u)
                    or "private")
        rows.append((link(f"/zones/{name}", name), state_badge(z.get("state")), urls, len(pods),
                     f"{running}/{len(containers)} running", restarts))
    return table(["zone", "state", "URL", "pod instances", "containers", "restarts"], rows,
                 "No zones yet: deploy one with `autonomy zone deploy --dir DIR`.", "zones")


def usage_fragment(rows: list[dict[str, Any]], zone: str | None = None) -> str:
    shown = [r for r in rows if zone is None or r.get("zone") == zone]
    return table(["zone", "model (as asked)", "served by", "requests", "failed", "prompt tokens", "completion tokens"],
                 [(r.get("zone"), r.get("model"), r.get("provider"), r.get("requests"), r.get("failed_requests"),
                   r.get("prompt_tokens"), r.get("completion_tokens")) for r in shown],
                 "No model requests yet.", "usage")


def pods_fragment(status: dict[str, Any]) -> str:
    rows = [(p.get("pod"), p.get("clone"), p.get("node"), c.get("container"), c.get("image"),
             state_badge(c.get("state")), c.get("restarts"), c.get("pid"))
            for p in status.get("pods") or [] for c in p.get("containers") or []]
    head = (f'<p>zone state {state_badge(status.get("state"))}'
            + (f' <span class="error">{e(status.get("error"))}</span>' if status.get("error") else "") + "</p>")
    return head + table(["pod", "clone", "node", "container", "image", "state", "restarts", "pid"], rows,
                        "No pods are running.", "pods")


def nodes_fragment(nodes: list[NodeInventory]) -> str:
    rows = []
    for n in nodes:
        agents = ", ".join(a.get("name", "?") for a in n.agents) or "-"
        workers = [w.get("name", "?") for w in n.workers if not w.get("started_by_agent")]
        conversations = sum(1 for w in n.workers if w.get("started_by_agent"))
        rows.append((n.key, n.node, n.error or agents, ", ".join(workers) or "-", conversations))
    return table(["pod/clone", "node", "agents", "workers", "conversation workers"], rows, "No nodes.", "nodes")


def _message_html(m: dict[str, Any]) -> str:
    role = str(m.get("role") or "?")
    content = m.get("content")
    text = content.get("text") if isinstance(content, dict) else content
    calls = "".join(
        f'<div class="muted">calls tool <code>{e((c.get("function") or {}).get("name"))}</code>'
        f'(<code>{e((c.get("function") or {}).get("arguments"))}</code>)</div>'
        for c in m.get("tool_calls") or [])
    label = role + (f" {m.get('name')}" if role == "tool" and m.get("name") else "")
    return (f'<div class="msg {e(role)}"><span class="role">{e(label)}</span>{e(text) if text else ""}'
            f"{calls}</div>")


def conversations_fragment(by_agent: list[tuple[str, str, list[dict[str, Any]] | str]]) -> str:
    """``[(pod/clone, agent, messages or an error)]``."""
    if not by_agent:
        return '<p class="empty">No agents in this zone.</p>'
    parts = []
    for where, agent, messages in by_agent:
        parts.append(f"<h3>{e(agent)} <span class=\"muted\">on {e(where)}</span></h3>")
        if isinstance(messages, str):
            parts.append(f'<p class="error">{e(messages)}</p>')
        elif not messages:
            parts.append('<p class="empty">No messages yet.</p>')
        else:
            parts.extend(_message_html(m) for m in messages if m.get("role") != "system")
    return "".join(parts)


def _span_detail(span: dict[str, Any]) -> str:
    a = span.get("attributes") or {}
    if span.get("name") == "model.call":
        tokens = (f" · {a.get('gen_ai.usage.input_tokens')} in / {a.get('gen_ai.usage.output_tokens')} out tokens"
                  if a.get("gen_ai.usage.input_tokens") is not None else "")
        return f"{a.get('gen_ai.request.model')} via {a.get('gen_ai.provider.name')}{tokens}"
    if span.get("name") == "tool.call":
        return str(a.get("gen_ai.tool.name"))
    if span.get("name") == "agent.turn":
        return f"{a.get('autonomy.agent')} · {a.get('autonomy.scope')}/{a.get('autonomy.conversation')}"
    if span.get("service") == "public-gateway":
        return f"public gateway · HTTP {a.get('http.response.status_code', '(no response)')}"
    if span.get("name") == "worker.handle":
        return f"{a.get('autonomy.worker')} on {span.get('service')}"
    return str(span.get("service") or "")


def traces_fragment(traces: list[dict[str, Any]] | None) -> str:
    if traces is None:
        return ('<p class="empty">This cluster collects no traces: install the traces extra '
                "(pip install 'autonomy-runtime[traces]') and restart the cluster.</p>")
    if not traces:
        return '<p class="empty">No traces yet: each agent turn makes one.</p>'
    parts = []
    for t in traces:
        spans = t.get("spans") or []
        total = max(float(t.get("duration_ms") or 0), 0.001)
        models = [s for s in spans if s.get("name") == "model.call"]
        tools = [s for s in spans if s.get("name") == "tool.call"]
        tokens = sum(int((s.get("attributes") or {}).get("gen_ai.usage.output_tokens") or 0) for s in models)
        root = next((s for s in spans if s.get("name") == "agent.turn"), None) or t.get("root") or {}
        services = sorted({str(s.get("service")) for s in spans if s.get("service") != "public-gateway"})
        where = f" · {len(services)} nodes" if len(services) > 1 else ""
        label = "" if root.get("name") == "agent.turn" else f"{root.get('name')} "
        summary = (f"{e(label)}{e(_span_detail(root))}{where} · {float(t.get('duration_ms') or 0):.0f} ms · "
                   f"{len(models)} model call(s), {tokens} output tokens · {len(tools)} tool call(s)"
                   + (' · <span class="error">error</span>' if t.get("error") else ""))
        rows = "".join(
            f'<tr><td style="padding-left:{12 * int(s.get("depth") or 0)}px">{e(s.get("name"))}</td>'
            f"<td>{e(_span_detail(s))}</td><td>{float(s.get('duration_ms') or 0):.1f} ms</td>"
            f'<td class="bar"><span class="{"bad" if s.get("error") else "ok"}" style="margin-left:'
            f'{100 * float(s.get("offset_ms") or 0) / total:.1f}%;width:'
            f'{max(0.5, 100 * float(s.get("duration_ms") or 0) / total):.1f}%"></span></td></tr>'
            for s in spans)
        parts.append(f'<details class="trace"><summary>{summary}</summary><table><thead><tr><th>span</th>'
                     f"<th>what</th><th>took</th><th>when</th></tr></thead><tbody>{rows}</tbody></table>"
                     f'<p class="muted">trace {e(t.get("trace_id"))}</p></details>')
    return '<div id="traces">' + "".join(parts) + "</div>"


def zone_page(name: str, status: dict[str, Any], nodes: list[NodeInventory], port: int) -> str:
    agents = [(n.key, a.get("name", "")) for n in nodes for a in n.agents]
    options = "".join(f'<option value="{e(json.dumps([k, a]))}">{e(a)} on {e(k)}</option>' for k, a in agents)
    chat = (f'<form class="chat" id="chat" data-zone="{e(name)}">'
            f'<label>agent <select name="target">{options}</select></label>'
            '<label>conversation <input name="conversation" value="console"></label>'
            '<textarea name="message" placeholder="Say something to the agent" required></textarea>'
            '<button type="submit">Send</button></form><div id="answer"></div>'
            if agents else '<p class="empty">No agent in this zone answers yet (reload when its nodes are up).</p>')
    pods = sorted({str(p.get("pod")) for p in status.get("pods") or []})
    pod_options = '<option value="">all pods</option>' + "".join(f'<option>{e(p)}</option>' for p in pods)
    urls = (f'<p>URL: {e(status.get("url"))} · any client: {e(path_url(port, name))}</p>' if status.get("url")
            else "<p>Private zone: no public URL.</p>")
    body = (
        f'<section class="wide"><h2>Pods, clones and containers</h2>{urls}'
        + live(f"/fragments/zones/{name}/pods") + "</section>"
        '<section><h2>Nodes and what they host</h2>' + live(f"/fragments/zones/{name}/nodes", "3s") + "</section>"
        f'<section><h2>Chat</h2>{chat}</section>'
        '<section class="wide"><h2>Conversations</h2>'
        + live(f"/fragments/zones/{name}/conversations", "4s", "chat-done from:body") + "</section>"
        '<section class="wide"><h2>Traces (one per agent turn)</h2>'
        + live(f"/fragments/zones/{name}/traces", "30s", "chat-done from:body delay:1500ms") + "</section>"
        '<section class="wide"><h2>Model usage</h2>' + live(f"/fragments/usage?zone={name}", "3s") + "</section>"
        f'<section class="wide"><h2>Logs</h2><label>pod <select id="log-pod" data-zone="{e(name)}">'
        f'{pod_options}</select></label><pre class="logs" id="logs"></pre></section>')
    return page(f"zone {name}", body, [("/", "console"), (f"/zones/{name}", name)])
