"""Memory tests that run agents use the agents' fixtures."""

from tests.agents.conftest import clean_env, model, node  # noqa: F401
