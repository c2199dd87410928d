"""Fixtures of the fault suite: the agents' (a real Model pointed at the fake LLM, a clean model env)."""

from tests.agents.conftest import clean_env, model  # noqa: F401 (fixtures)
