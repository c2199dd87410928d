"""Planners (upstream's ``autonomy.planning``, not exported at the top level): a ``Planner`` turns the
user's task into a ``Plan`` whose ``next_step`` yields planning messages. ``CoTPlanner`` (the whole plan in
one answer), ``ReActPlanner`` (steps written up front, handed out one by one), ``DynamicPlanner`` (the
next step decided after each one). They call any object with ``Model.complete_chat``'s shape.
Agents do not use planners (as upstream today); an app calls them itself (docs/upstream.md)."""

from autonomy.planning.cot import CoTPlanner
from autonomy.planning.dynamic import DynamicPlanner
from autonomy.planning.protocol import Plan, Planner
from autonomy.planning.react import ReActPlanner

__all__ = ["Planner", "Plan", "CoTPlanner", "ReActPlanner", "DynamicPlanner"]
