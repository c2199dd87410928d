"""Eval: a subject scored by metrics over test cases; failures become TestError, aggregates skip them."""

from __future__ import annotations

import math
import statistics

import pytest

from autonomy import Agent, Eval, Metric, TestCase, TestError, TestOk


class ExactMatch:
    name = "exact"

    def calculate(self, expected_output, observed_output):
        return 1.0 if expected_output == observed_output else 0.0

    def aggregate(self, values):
        return statistics.mean(values)


def test_scores_and_aggregates():
    def subject(x):
        if x == "boom":
            raise RuntimeError("exploded")
        return x.upper()

    cases = [TestCase("a", "A"), TestCase("b", "x"), TestCase("boom", "")]
    aggregates, results = Eval().run(subject, cases, [ExactMatch()])
    assert aggregates == {"exact": 0.5}
    assert results[0] == TestOk(cases[0], "A", {"exact": 1.0})
    assert results[2] == TestError(cases[2], "exploded")
    assert isinstance(ExactMatch(), Metric)


def test_nan_when_nothing_succeeded_and_empty_inputs_are_refused():
    def fail(x):
        raise ValueError("no")

    aggregates, _ = Eval().run(fail, [TestCase(1, 1)], [ExactMatch()])
    assert math.isnan(aggregates["exact"])
    with pytest.raises(ValueError, match="test cases is empty"):
        Eval().run(str, [], [ExactMatch()])
    with pytest.raises(ValueError, match="metrics is empty"):
        Eval().run(str, [TestCase(1, 1)], [])
    with pytest.raises(ValueError, match="not callable"):
        Eval().run(None, [TestCase(1, 1)], [ExactMatch()])


def test_an_async_subject_outside_a_loop():
    async def subject(x):
        return x * 2

    assert Eval().run(subject, [TestCase(2, 4)], [ExactMatch()])[0] == {"exact": 1.0}


async def test_an_agent_evaluated_inside_a_loop(node, model):
    agent = await Agent.start(node, "x", model=model)

    async def ask(question):
        return (await agent.send(question))[-1].content.text

    aggregates, _ = await Eval().arun(ask, [TestCase("hi", "echo: hi"), TestCase("yo", "nope")], [ExactMatch()])
    assert aggregates == {"exact": 0.5}
