"""Flow tests use the agents' fixtures: a node serving HTTP on loopback, the real Model on the fake LLM."""

from tests.agents.conftest import clean_env, http, model, node  # noqa: F401
