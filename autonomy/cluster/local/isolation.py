"""Whether and how the local deployer isolates containers: the sandbox per container, its record in state.

:class:`Isolation` is chosen once per controller (:meth:`Isolation.detect`) and then applied to each
container (:meth:`Isolation.apply`). Decisions:

- Sandboxed when :func:`~.sandbox.sandbox_available` says so; otherwise ``zone deploy`` prints one line
  (``isolation: none (<why>)``) and ``zone status`` shows the same.
- Once a cluster has run a zone sandboxed, ``state.db`` records it (setting ``isolation = sandbox``); a
  later controller that cannot sandbox refuses to deploy or restore zones with a ClusterError naming why
  and the fix, unless ``AUTONOMY_ISOLATION=none`` says in so many words that unsandboxed is wanted.
- Between pods, nftables (:mod:`.firewall`) when pods have their own network namespaces and ``nft`` runs;
  ``zone status`` says ``network: none (<why>)`` otherwise.
- A sandboxed container's fabric credentials reach it through a pipe at
  :data:`~.sandbox.CREDENTIALS_PATH`, its ``HOME`` and ``TMPDIR`` are its private ``/tmp``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autonomy.cluster.local.firewall import PodFirewall, firewall_available
from autonomy.cluster.local.netns import NetnsNetwork
from autonomy.cluster.local.sandbox import (
    CREDENTIALS_PATH,
    DATA_FD,
    SECCOMP_FD,
    Sandbox,
    SandboxPlan,
    prepare_app_copy,
    sandbox_available,
    write_identity_files,
    zone_uid,
)
from autonomy.cluster.local.seccomp import filter_program
from autonomy.cluster.state import ClusterState
from autonomy.errors import ClusterError

__all__ = ["Isolation", "Launch"]

SETTING = "isolation"
log = logging.getLogger("autonomy.cluster")


@dataclass
class Launch:
    """How one container is started: its argv (before cgroup/netns wrapping), env, cwd and piped data."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    data: dict[str, bytes] | None = None  # {argv placeholder: bytes piped in}


class Isolation:
    """``sandbox`` is None when containers run unsandboxed, for the reason ``reason``."""

    def __init__(self, cluster_id: str, state: ClusterState, sandbox: Sandbox | None, reason: str = "") -> None:
        self.cluster_id = cluster_id
        self.state = state
        self.sandbox = sandbox
        self.reason = reason
        self.seccomp = filter_program() if sandbox is not None else None
        self.firewall: PodFirewall | None = None  # set by the controller once the pod network is up
        self.network_reason = "pods share the host network"

    @classmethod
    def detect(cls, cluster_id: str, state: ClusterState) -> Isolation:
        ok, why = sandbox_available()
        return cls(cluster_id, state, Sandbox() if ok else None, why)

    @classmethod
    async def open(cls, cluster_id: str, state: ClusterState, netns: NetnsNetwork | None,
                   service_urls: list[str], pods: dict[str, str] | None = None) -> Isolation:
        """Detect the sandbox and, with pods in namespaces, load the zone rules letting pods reach the
        ports of ``service_urls`` (the fabric, the model gateway) on the bridge, with ``pods`` (veth -> zone:
        pods adopted from a previous controller) already in them. :meth:`close` at the end."""
        isolation = cls.detect(cluster_id, state)
        if netns is None:
            return isolation
        ok, why = firewall_available()
        if not ok:
            isolation.network_reason = why
            log.warning("pods of different zones can reach each other: %s", why)
            return isolation
        firewall = PodFirewall(cluster_id, netns.bridge, netns.gateway)
        ports = [urlsplit(url).port for url in service_urls]
        await asyncio.to_thread(firewall.setup, [p for p in ports if p], pods)
        isolation.firewall = firewall
        return isolation

    async def close(self) -> None:
        """Delete the zone rules (after every pod is gone)."""
        if self.firewall is not None:
            await asyncio.to_thread(self.firewall.teardown)

    @property
    def summary(self) -> str:
        """``sandbox`` or ``none (<why>)``: what ``zone status`` shows."""
        fs = "sandbox" if self.sandbox is not None else f"none ({self.reason})"
        if self.sandbox is not None and self.seccomp is None:
            fs += " (no syscall filter: not x86_64)"
        return fs if self.firewall is not None else f"{fs}; network: none ({self.network_reason})"

    def check(self) -> None:
        """Refuse to run zones unsandboxed in a cluster that ran them sandboxed (see the module docstring)."""
        if self.sandbox is not None or self.reason == "AUTONOMY_ISOLATION=none":
            return
        if self.state.get_setting(SETTING) == "sandbox":
            raise ClusterError(
                f"this cluster ran its zones sandboxed, but this controller cannot sandbox them: {self.reason}. "
                "Fix that (root, apt-get install bubblewrap) and restart the cluster, or set AUTONOMY_ISOLATION=none "
                "for the controller to run zones unsandboxed on purpose")

    def record(self) -> None:
        if self.sandbox is not None and self.state.get_setting(SETTING) != "sandbox":
            self.state.set_setting(SETTING, "sandbox")

    def uid(self, zone: str) -> int | None:
        return zone_uid(self.cluster_id, zone) if self.sandbox is not None else None

    async def apply(self, zone_dir: Path, zone: str, instance: str, container: str, plan: Any,
                    python: Path | None, launch: Launch, credentials: bytes) -> Launch:
        """``launch`` made to run in the sandbox (unchanged when unsandboxed)."""
        if self.sandbox is None:
            return launch
        uid = zone_uid(self.cluster_id, zone)
        passwd = await asyncio.to_thread(write_identity_files, zone_dir / "sandbox", zone, uid)
        sp = SandboxPlan(uid=uid, passwd=passwd)
        if plan.image_dir:
            sp.app_path = Path(plan.image_dir)
            sp.app_copy = zone_dir / "run" / instance / container
            sp.chdir = launch.cwd
            await asyncio.to_thread(prepare_app_copy, sp.app_path, sp.app_copy, uid)
        if python is not None:
            sp.read_only.append(python.parent.parent)
        data_dir = launch.env.get("AUTONOMY_DATA_DIR")
        if data_dir:  # the pod instance's own data (conversations), writable by the zone's uid only
            await asyncio.to_thread(_own_tree, Path(data_dir), uid)
            sp.writable.append(Path(data_dir))
        env = dict(launch.env)
        env.update({"AUTONOMY_FABRIC_CREDENTIALS": CREDENTIALS_PATH, "HOME": "/tmp", "TMPDIR": "/tmp",
                    "USER": f"zone-{zone}", "LOGNAME": f"zone-{zone}"})
        argv = self.sandbox.wrap(launch.argv, sp, with_credentials=True, seccomp=self.seccomp is not None)
        data = {DATA_FD: credentials}
        if self.seccomp is not None:
            data[SECCOMP_FD] = self.seccomp
        # bwrap itself starts in a directory that always exists; the app's is set inside with --chdir.
        return Launch(argv, env, Path("/"), data)

    async def add_pod(self, zone: str, veth: str) -> None:
        """Put a new pod's veth into its zone's rules (before any of its processes starts)."""
        if self.firewall is not None:
            await self.firewall.add_pod(zone, veth)

    async def remove_pod(self, veth: str) -> None:
        if self.firewall is not None:
            await self.firewall.remove_pod(veth)

    def remove_instance(self, zone_dir: Path, instance: str) -> None:
        """Remove the instance's writable app copies (call after its processes exited)."""
        shutil.rmtree(zone_dir / "run" / instance, ignore_errors=True)


def _own_tree(path: Path, uid: int) -> None:
    """Give ``path`` and everything in it to ``uid`` (the zone's user), keeping it 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, uid, follow_symlinks=False)
        for name in files + dirs:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
