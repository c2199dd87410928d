from autonomy import Agent, Model, Node


async def main(node):
    # Talk to Vera at ws://<zone url>/agents/vera/voice; the realtime model comes from the cluster's gateway.
    await Agent.start(
        node=node,
        name="vera",
        instructions="You are Vera. You answer questions about the weather, briefly.",
        model=Model("claude-sonnet-4-v1"),
        voice={"voice": "alloy", "realtime_model": "gpt-4o-realtime-preview", "instructions": "Be warm."},
    )


Node.start(main)
