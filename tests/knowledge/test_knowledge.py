"""Knowledge over local text, with embeddings from the cluster's model gateway (its embedded MiniLM)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from autonomy import (
    Agent,
    HttpServer,
    InMemory,
    Knowledge,
    KnowledgeAggregator,
    KnowledgeTool,
    Model,
    NaiveChunker,
    Node,
    NoopKnowledge,
    TextPiece,
)
from autonomy.errors import ConfigError
from tests.knowledge.conftest import DOCUMENTS
from tests.support.fake_llm import FakeLLM


async def _filled(**kwargs) -> Knowledge:
    knowledge = Knowledge("facts", searchable=True, **kwargs)
    for name, text in DOCUMENTS.items():
        await knowledge.add_text(name, text)
    return knowledge


async def test_searchable_knowledge_finds_the_document_by_meaning(gateway):
    knowledge = await _filled(max_distance=0.8, max_results=2)
    hits = await knowledge.knowledge.search("How do I make a loaf rise in the oven?")
    assert hits[0].document_name == "bread"
    assert hits == sorted(hits, key=lambda h: h.distance) and len(hits) <= 2
    assert len(hits[0].text_piece.embedding) == 384

    answer = await knowledge.search_knowledge(None, None, "eruption of lava and ash")
    assert answer.startswith("Document name: volcano\n- A volcano erupts")

    # upstream's default max_distance (0.2) keeps only close matches: an unrelated question finds nothing
    strict = await _filled()
    assert await strict.search_knowledge("s", "c", "what is the capital of Peru") is None


async def test_answers_are_grouped_by_document_and_kept_under_the_size_limit(gateway):
    knowledge = Knowledge("small", searchable=True, chunker=NaiveChunker(60, 10), max_distance=1.0, max_results=10,
                          max_knowledge_size=200)
    await knowledge.add_text("sailing", DOCUMENTS["sailing"])
    await knowledge.add_text("bread", DOCUMENTS["bread"])
    answer = await knowledge.search_knowledge(None, None, "sails and the wind")
    assert len(answer) <= 200
    assert answer.startswith("Document name: sailing\n- ")
    assert answer.count("Document name: sailing") == 1


async def test_adding_a_document_again_replaces_its_pieces(gateway):
    knowledge = Knowledge("replace", searchable=True, max_distance=0.9)
    await knowledge.add_text("notes", DOCUMENTS["volcano"])
    await knowledge.add_text("notes", DOCUMENTS["python"])
    answer = await knowledge.search_knowledge(None, None, "magma and lava")
    assert "volcano" not in (answer or "").lower()
    assert [name for name, _ in await knowledge.storage.documents("replace")] == ["notes"]


async def test_unsearchable_knowledge_gives_whole_documents(gateway):
    storage = InMemory()
    everything = Knowledge("manual", storage=storage, max_knowledge_size=4096)
    await everything.add_text("bread", DOCUMENTS["bread"])
    await everything.add_text("sailing", DOCUMENTS["sailing"])
    answer = await everything.search_knowledge(None, None, "anything at all")
    assert answer == f"Document name: bread\n{DOCUMENTS['bread']}\n\nDocument name: sailing\n{DOCUMENTS['sailing']}"

    one = Knowledge("manual", storage=storage, document_name="sailing")
    assert await one.search_knowledge(None, None, "x") == f"Document name: sailing\n{DOCUMENTS['sailing']}"
    short = Knowledge("manual", storage=storage, max_knowledge_size=40)
    assert len(await short.search_knowledge(None, None, "x")) <= 40
    assert await Knowledge("empty").search_knowledge(None, None, "x") is None


@pytest.fixture
def web_server() -> Iterator[str]:
    """A loopback HTTP server with an HTML page and a 404."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path != "/guide.html":
                self.send_error(404)
                return
            body = b"<html><body><h1>Returns</h1><p>Items may be returned within 14 days.</p></body></html>"
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


async def test_add_document_from_a_url_and_from_a_file(gateway, web_server, tmp_path):
    knowledge = Knowledge("docs", searchable=True, max_distance=0.8)
    await knowledge.add_document("returns", f"{web_server}/guide.html")
    (tmp_path / "faq.md").write_text("# FAQ\n\nShipping takes five working days to Europe.\n")
    await knowledge.add_document("faq", str(tmp_path / "faq.md"))
    await knowledge.add_document("faq-again", (tmp_path / "faq.md").as_uri())

    answer = await knowledge.search_knowledge(None, None, "Can I send an item back?")
    assert answer.startswith("Document name: returns\n- Returns\nItems may be returned within 14 days.")
    assert "Shipping takes five working days" in await knowledge.search_knowledge(None, None, "delivery time")

    with pytest.raises(ConfigError, match="HTTP 404"):
        await knowledge.add_document("missing", f"{web_server}/missing.html")
    with pytest.raises(ConfigError, match="cannot read it"):
        await knowledge.add_document("missing", str(tmp_path / "nope.txt"))
    with pytest.raises(ConfigError, match="scheme 'ftp'"):
        await knowledge.add_document("x", "ftp://127.0.0.1/file")


def test_bad_arguments_are_refused_naming_the_field():
    with pytest.raises(ConfigError, match="name"):
        Knowledge("")
    with pytest.raises(ConfigError, match="max_distance"):
        Knowledge("k", searchable=True, model=Model("embed-english"), max_distance=3)
    with pytest.raises(ConfigError, match="max_results"):
        Knowledge("k", searchable=True, model=Model("embed-english"), max_results=0)
    with pytest.raises(ConfigError, match="model"):
        Knowledge("k", searchable=True, model=object())
    with pytest.raises(ConfigError, match="max_knowledge_size"):
        Knowledge("k", max_knowledge_size=0)


async def test_knowledge_tool_aggregator_and_noop(gateway):
    bread = await _filled(max_distance=0.8, max_results=1)
    manual = Knowledge("manual")
    await manual.add_text("manual", "Always preheat the oven.")
    tool = KnowledgeTool(KnowledgeAggregator([bread, NoopKnowledge(), manual]))
    spec = await tool.spec()
    assert spec["function"]["name"] == "search_knowledge"
    assert spec["function"]["parameters"]["required"] == ["query"]

    answer = await tool.invoke(json.dumps({"query": "baking a loaf of bread"}))
    assert answer.startswith("Document name: bread\n") and answer.endswith("Document name: manual\nAlways preheat "
                                                                          "the oven.")
    assert await KnowledgeTool(NoopKnowledge(), name="lookup").invoke('{"query": "x"}') == \
        "No relevant information found"
    assert (await tool.invoke("{}")).startswith("Tool execution failed: 'query' is required")
    assert (await tool.invoke("{not json")).startswith("Tool execution failed")
    with pytest.raises(ConfigError, match="knowledge provider"):
        KnowledgeTool(object())
    with pytest.raises(ConfigError, match="name"):
        KnowledgeTool(NoopKnowledge(), name="Search Knowledge")


async def test_an_agent_answers_from_knowledge_through_the_tool(gateway_with_chat: FakeLLM):
    llm = gateway_with_chat
    knowledge = await _filled(max_distance=0.8, max_results=1)
    llm.reply(tool_calls=[("search_knowledge", {"query": "how long does dough rise"})])
    llm.reply("Let it rise for an hour.")
    async with Node.open("knowledge-agent", http_server=HttpServer("127.0.0.1:0")) as node:
        agent = await Agent.start(node, "Answer from the knowledge base.", name="baker", model=Model("fake-model"),
                                  tools=[KnowledgeTool(knowledge)])
        replies = await agent.send("How long should bread dough rise?", timeout=60)
    assert replies[-1].content.text == "Let it rise for an hour."
    second = llm.completion_requests()[1].json
    tool_result = [m for m in second["messages"] if m["role"] == "tool"][0]
    assert tool_result["content"].startswith("Document name: bread\n- To bake bread")
    assert any(t["function"]["name"] == "search_knowledge" for t in llm.completion_requests()[0].json["tools"])


async def test_in_memory_storage_finds_nearest_pieces_by_cosine_distance():
    storage = InMemory()
    await storage.store_document("k", "a", "text a")
    await storage.store_text_piece("k", "a", TextPiece("east", [1.0, 0.0, 0.0]))
    await storage.store_text_piece("k", "a", TextPiece("north-east", [1.0, 1.0, 0.0]))
    await storage.store_text_piece("k", "b", TextPiece("north", [0.0, 1.0, 0.0]))
    await storage.store_text_piece("k", "b", TextPiece("nothing", [0.0, 0.0, 0.0]))
    await storage.store_text_piece("other", "a", TextPiece("east elsewhere", [1.0, 0.0, 0.0]))
    results = await storage.search_text("k", [2.0, 0.1, 0.0], max_results=2, max_distance=1.0)
    assert [(h.document_name, h.text_piece.text) for h in results] == [("a", "east"), ("a", "north-east")]
    assert results.hits[0].distance == pytest.approx(1 - 2 / (2.0 ** 2 + 0.01) ** 0.5, abs=1e-9)
    assert [h.text_piece.text for h in await storage.search_text("k", [0.0, -1.0, 0.0], 10, 2.0)][-1] == "north"
    with pytest.raises(ConfigError, match="4 dimensions, the stored pieces 3"):
        await storage.search_text("k", [1.0, 0.0, 0.0, 0.0], 10, 2.0)
