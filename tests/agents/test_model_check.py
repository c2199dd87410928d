"""An agent with no model provider configured is announced once in its node's log, at start."""

from __future__ import annotations

import logging

import pytest

from autonomy.agents import Agent
from autonomy.models import Model


async def test_a_node_whose_agents_have_no_model_warns_once_naming_the_variables(
        node, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="autonomy.agents"):
        await Agent.start(node=node, name="first", instructions="You answer.")
        await Agent.start(node=node, name="second", instructions="You answer.", model=Model("gpt-4o-mini"))
    warnings = [r.getMessage() for r in caplog.records if "no model provider" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "'first'" in warnings[0] and "claude-sonnet-4-v1" in warnings[0]
    for variable in ("OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "AUTONOMY_USE_EXTERNAL_APIS_GATEWAY"):
        assert variable in warnings[0]


async def test_an_agent_with_a_configured_model_starts_quietly(node, model, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="autonomy.agents"):
        await Agent.start(node=node, name="quiet", instructions="You answer.", model=model)
        await Agent.start(node=node, name="default", instructions="You answer.")  # OPENAI_BASE_URL serves it
    assert not [r for r in caplog.records if "no model provider" in r.getMessage()]
