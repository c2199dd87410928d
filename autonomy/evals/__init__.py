"""Evaluations of agents and functions (upstream's ``autonomy.evals``)."""

from autonomy.evals.eval import Eval, Metric, TestCase, TestError, TestOk

__all__ = ["Eval", "Metric", "TestCase", "TestOk", "TestError"]
