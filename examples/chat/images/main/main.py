from autonomy import Agent, Model, Node


async def main(node):
    await Agent.start(
        node=node,
        name="henry",
        instructions="You are Henry, a friendly assistant. Answer in a few sentences.",
        model=Model("claude-sonnet-4-v1"),
    )


# index.html in the working directory is served at /
Node.start(main)
