"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright for Python).

Loads the cluster page, sees the deployed zone, opens its page, sees its agent, sends a chat message and
watches the answer stream in (several growing snapshots of the answer, not just the final text).
Screenshots go to the test's tmp dir; their paths are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import ConsoleCluster

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

HAVE_CHROMIUM = Path(CHROMIUM).exists()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_CHROMIUM and os.geteuid() != 0,
                       reason="needs Debian's chromium (scripts/system-deps.d/chromium.sh installs it as root)"),
]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium under Playwright's async API (the sync API would run its own event loop in the
    test's thread, which pytest-asyncio's fixtures already use)."""
    if not HAVE_CHROMIUM:  # CI runs as root: scripts/system-deps must have installed it
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps as root (scripts/system-deps.d/chromium.sh)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def _shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


async def test_newcomer_opens_the_console_and_watches_the_agent_answer(console_cluster: ConsoleCluster,
                                                                        tmp_path: Path) -> None:
    c = console_cluster
    c.llm.reset()
    c.llm.reply(tool_calls=[("add", {"a": 20, "b": 22})])
    c.llm.reply("The sum of twenty and twenty-two is forty-two.", chunk_delay=0.6)
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            await page.goto(c.console + "/", wait_until="load")
            await page.wait_for_selector(f'#zones a[href="/zones/{c.zone}"]', timeout=30_000)
            assert "running" in await page.inner_text("#zones")
            await _shot(page, tmp_path, "1-cluster")

            # The zone's own URL without a page at / leads to its console page.
            await page.goto(f"{c.console}/z/{c.zone}/", wait_until="load")
            assert page.url == f"{c.console}/zones/{c.zone}"
            await page.wait_for_selector("#nodes", timeout=30_000)
            assert "calc" in await page.inner_text("#nodes")
            await page.wait_for_selector("#pods", timeout=30_000)
            await page.wait_for_function("document.getElementById('logs').textContent.length > 0", timeout=30_000)

            # Record every state of the answer as it changes, then send the message.
            await page.evaluate("""() => {
                window.answerStates = [];
                new MutationObserver(() => {
                    const t = document.getElementById('answer-text');
                    if (t && t.textContent && window.answerStates.at(-1) !== t.textContent)
                        window.answerStates.push(t.textContent);
                }).observe(document.getElementById('answer'), {subtree: true, childList: true, characterData: true});
            }""")
            await page.fill("#chat textarea", "What is 20 + 22?")
            await page.click("#chat button")
            await page.wait_for_selector(".msg.assistant[data-done=true]", timeout=90_000)
            await _shot(page, tmp_path, "2-zone-answered")
            final = await page.inner_text("#answer-text")
            assert final == "The sum of twenty and twenty-two is forty-two."
            states = await page.evaluate("window.answerStates")
            assert len(states) >= 2 and states[-1] == final, states  # it streamed in, piece by piece
            assert all(final.startswith(s) for s in states), states
            assert "calls tool add" in await page.inner_text("#answer")

            # The conversation (with its tool call) appears in the live conversations view.
            await page.wait_for_function("document.body.innerText.includes('What is 20 + 22?') && "
                                         "document.querySelectorAll('.msg.tool').length > 0", timeout=30_000)
            await page.wait_for_function("document.getElementById('usage') !== null", timeout=30_000)
            assert "claude-sonnet-4-v1" in await page.inner_text("#usage")
            await _shot(page, tmp_path, "3-zone-conversation")

            # The turn's trace (from the cluster's collector) opens into its model and tool calls. (Opening the
            # zone's root through the public gateway made a trace too: the gateway's span of that redirect.)
            turn = "#traces details.trace:has-text('1 tool call(s)')"
            await page.wait_for_selector(turn, timeout=90_000)  # polled every 30 s
            await page.click(f"{turn} summary")
            assert "tool.call" in await page.inner_text(turn)
            await _shot(page, tmp_path, "4-zone-trace")
            assert errors == []
        finally:
            await context.close()
