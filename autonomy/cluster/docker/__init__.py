"""The Docker runtime of the local cluster (``AUTONOMY_RUNTIME=docker``): pods as Docker Engine containers."""

from autonomy.cluster.docker.backend import DockerBackend
from autonomy.cluster.docker.deployer import DockerDeployer

__all__ = ["DockerBackend", "DockerDeployer"]
