from autonomy import Agent, Knowledge, KnowledgeTool, Model, NaiveChunker, Node


async def main(node):
    # Searchable knowledge over local files; embeddings come from the cluster's model gateway.
    knowledge = Knowledge(
        name="handbook",
        searchable=True,
        model=Model("embed-english"),
        max_results=3,
        max_distance=0.6,
        chunker=NaiveChunker(max_characters=400, overlap=40),
    )
    await knowledge.add_document("returns", "returns.md")
    await knowledge.add_document("shipping", "shipping.html")

    await Agent.start(
        node=node,
        name="librarian",
        instructions="You answer questions about the shop. Always search the knowledge base first.",
        model=Model("claude-sonnet-4-v1"),
        tools=[KnowledgeTool(knowledge=knowledge, name="search_handbook")],
    )


Node.start(main)
