from autonomy import Agent, Model, Node, Tool


def count_words(text: str) -> int:
    """Count the words in a text.

    Args:
        text: The text whose words to count.
    """
    return len(text.split())


async def main(node):
    await Agent.start(
        node=node,
        name="henry",
        instructions="You are Henry, a concise assistant. Use the count_words tool when asked to count words.",
        model=Model("claude-sonnet-4-v1"),  # served by the cluster's model gateway
        tools=[Tool(count_words)],
    )


Node.start(main)
