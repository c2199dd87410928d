// The console's two streams: the chat box's answer and the zone's logs. Plain fetch + ReadableStream,
// no build step. Everything shown is set as text (never as HTML).
"use strict";

async function readLines(response, onLine) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
    }
  }
  if (buffered) onLine(buffered);
}

function element(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setupChat() {
  const form = document.getElementById("chat");
  if (!form) return;
  const answer = document.getElementById("answer");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const message = String(data.get("message") || "");
    const button = form.querySelector("button");
    button.disabled = true;
    answer.replaceChildren();
    const asked = element("div", "msg user");
    asked.append(element("span", "role", "you"), document.createTextNode(message));
    answer.append(asked);
    const reply = element("div", "msg assistant");
    reply.append(element("span", "role", "agent"));
    const text = element("span", "text");
    text.id = "answer-text";
    reply.append(text);
    answer.append(reply);
    try {
      const response = await fetch(`/zones/${encodeURIComponent(form.dataset.zone)}/chat`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Autonomy-Console": "1" },
        body: JSON.stringify({ target: JSON.parse(data.get("target")), message,
                               conversation: data.get("conversation") }),
      });
      if (!response.ok) {
        answer.append(element("div", "error", await response.text()));
        return;
      }
      await readLines(response, (line) => {
        if (!line.trim()) return;
        const ev = JSON.parse(line);
        if (ev.text !== undefined) text.textContent += ev.text;
        else if (ev.tool !== undefined) reply.insertBefore(element("div", "muted", `calls tool ${ev.tool}(${ev.arguments || ""})`), text);
        else if (ev.tool_result !== undefined) reply.insertBefore(element("div", "muted", `tool ${ev.name || ""} returned ${ev.tool_result}`), text);
        else if (ev.error !== undefined) answer.append(element("div", "error", ev.error));
        else if (ev.done) reply.dataset.done = "true";
      });
    } catch (error) {
      answer.append(element("div", "error", String(error)));
    } finally {
      button.disabled = false;
      document.body.dispatchEvent(new Event("chat-done"));
    }
  });
}

function setupLogs() {
  const pre = document.getElementById("logs");
  const select = document.getElementById("log-pod");
  if (!pre || !select) return;
  let controller = null;
  const follow = async () => {
    if (controller) controller.abort();
    controller = new AbortController();
    pre.textContent = "";
    const params = new URLSearchParams({ tail: "200" });
    if (select.value) params.set("pod", select.value);
    try {
      const response = await fetch(`/zones/${encodeURIComponent(select.dataset.zone)}/logs?${params}`,
                                   { signal: controller.signal });
      if (!response.ok) { pre.textContent = await response.text(); return; }
      await readLines(response, (line) => {
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(line + "\n");
        while (pre.childNodes.length > 2000) pre.removeChild(pre.firstChild);
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      });
    } catch (error) {
      if (error.name !== "AbortError") pre.append(`(log stream ended: ${error})\n`);
    }
  };
  select.addEventListener("change", follow);
  follow();
}

setupChat();
setupLogs();
