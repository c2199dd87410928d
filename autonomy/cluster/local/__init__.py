"""The local backend: pods as processes in network namespaces on this machine."""

from autonomy.cluster.local.deployer import LocalDeployer

__all__ = ["LocalDeployer"]
