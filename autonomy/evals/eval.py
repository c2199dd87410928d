"""Evaluations: run a subject over test cases and score it with metrics (spec §1.10).

``Eval().run(subject, cases, metrics) -> (aggregates, results)``. ``subject(case.input)`` gives the
observed output; each metric's ``calculate(expected, observed)`` scores it; ``results`` has a
``TestOk`` (output and scores) or a ``TestError`` (the failure's text) per case, in order; each
metric's ``aggregate`` over the cases that succeeded is in ``aggregates`` (NaN when none did).

Empty ``cases`` or ``metrics``, or a subject that is not callable, raise ValueError. Ours also
accepts an async subject: ``run`` awaits it when called outside an event loop, and ``await
Eval().arun(...)`` works inside one (an agent: ``lambda q: agent.send(q)``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Eval", "Metric", "TestCase", "TestOk", "TestError"]


@runtime_checkable
class Metric(Protocol):
    """A score of one output (``calculate``) and of many (``aggregate``, e.g. the mean)."""

    @property
    def name(self) -> str: ...

    def calculate(self, expected_output: Any, observed_output: Any) -> float: ...

    def aggregate(self, values: list[float]) -> float: ...


@dataclass
class TestCase:
    __test__ = False  # not a pytest test class

    input: Any
    expected_output: Any


@dataclass
class TestOk:
    __test__ = False

    test_case: TestCase
    output: Any
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class TestError:
    __test__ = False

    test_case: TestCase
    error: str


class Eval:
    """Runs evaluations (see the module docstring)."""

    @staticmethod
    def _check(subject: Any, cases: list[TestCase], metrics: list[Any]) -> None:
        if not callable(subject):
            raise ValueError("Eval.run: subject is not callable: give a function of the case input")
        if not cases:
            raise ValueError("Eval.run: the list of test cases is empty")
        if not metrics:
            raise ValueError("Eval.run: the list of metrics is empty")

    @staticmethod
    def _aggregate(metrics: list[Any], results: list[TestOk | TestError]) -> dict[str, float]:
        out = {}
        for metric in metrics:
            values = [r.metrics[metric.name] for r in results if isinstance(r, TestOk) and metric.name in r.metrics]
            out[metric.name] = metric.aggregate(values) if values else float("nan")
        return out

    @staticmethod
    def _score(case: TestCase, output: Any, metrics: list[Any]) -> TestOk:
        return TestOk(case, output, {m.name: m.calculate(case.expected_output, output) for m in metrics})

    def run(self, subject: Callable[[Any], Any], cases: list[TestCase],
            metrics: list[Any]) -> tuple[dict[str, float], list[TestOk | TestError]]:
        """Evaluate ``subject`` on ``cases`` (blocking; see the module docstring)."""
        self._check(subject, cases, metrics)
        results: list[TestOk | TestError] = []
        for case in cases:
            try:
                output = subject(case.input)
                if inspect.isawaitable(output):
                    output = asyncio.run(_await(output))  # RuntimeError inside a running loop: use arun
                results.append(self._score(case, output, metrics))
            except Exception as exc:
                results.append(TestError(case, str(exc)))
        return self._aggregate(metrics, results), results

    async def arun(self, subject: Callable[[Any], Any], cases: list[TestCase],
                   metrics: list[Any]) -> tuple[dict[str, float], list[TestOk | TestError]]:
        """:meth:`run` inside an event loop; the subject may be async. Cases run one after the other."""
        self._check(subject, cases, metrics)
        results: list[TestOk | TestError] = []
        for case in cases:
            try:
                output = subject(case.input)
                if inspect.isawaitable(output):
                    output = await output
                results.append(self._score(case, output, metrics))
            except Exception as exc:
                results.append(TestError(case, str(exc)))
        return self._aggregate(metrics, results), results


async def _await(awaitable: Any) -> Any:
    return await awaitable
