"""Evals use the agents' fixtures (a node, the real Model on the fake LLM)."""

from tests.agents.conftest import clean_env, model, node  # noqa: F401
