from autonomy import Agent, McpClient, McpTool, Model, Node


async def main(node):
    await Agent.start(
        node=node,
        name="clock",
        instructions="You tell the time. Always call get_current_time with an IANA timezone name.",
        model=Model("claude-sonnet-4-v1"),
        tools=[McpTool("time", "get_current_time")],
    )


# The time server runs beside this node in the same pod: its MCP endpoint is on localhost.
Node.start(main, mcp_clients=[McpClient(name="time", address="http://localhost:8001/sse")])
