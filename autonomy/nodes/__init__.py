"""The node runtime: nodes, workers, mailboxes, local dispatch, the node controller."""

from autonomy.nodes.cells import WorkerContext
from autonomy.nodes.controller import NodeController, NodeRequest, NodeResponse
from autonomy.nodes.discovery import Cluster, Zone  # fabric
from autonomy.nodes.mailbox import NodeMailbox
from autonomy.nodes.node import Node
from autonomy.nodes.protocol import Context, Mailbox, Worker
from autonomy.nodes.remote import RemoteNode  # fabric

__all__ = ["Node", "NodeMailbox", "Worker", "Context", "Mailbox", "WorkerContext",
           "NodeController", "NodeRequest", "NodeResponse",
           "RemoteNode", "Zone", "Cluster"]
