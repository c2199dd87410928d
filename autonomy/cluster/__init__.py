"""The local cluster's control plane: the controller daemon, its client, zone state, deployers.

The CLI uses :class:`ClusterClient` only; everything else runs inside the controller process.
"""

from autonomy.cluster.client import ClusterClient, default_home

__all__ = ["ClusterClient", "default_home"]
