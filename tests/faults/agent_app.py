"""A node with one agent (model from OPENAI_BASE_URL), serving HTTP on DEFAULT_PORT_HTTP: what a zone's
main container runs. Its conversations go where the environment says (AUTONOMY_DATA_DIR, ...)."""

from autonomy import Agent, Model, Node


async def main(node):
    await Agent.start(node, "You remember.", name="henry", model=Model("fake-model", throttle_max_retry_attempts=0),
                      enable_ask_for_user_input=True)
    print("READY", flush=True)


Node.start(main)
