"""Flows: conversations routed through a graph of agents (upstream ``autonomy.flows``)."""

from autonomy.flows.flow import Flow, FlowWorker
from autonomy.flows.operation import END, START, FlowOperation
from autonomy.flows.reference import FlowReference

__all__ = ["Flow", "FlowWorker", "FlowOperation", "FlowReference", "START", "END"]
