"""Network namespaces for pods: one bridge per cluster, one namespace + veth pair per pod instance.

Address plan (documented in docs/cluster.md): each cluster takes one /24 inside ``10.214.0.0/16``;
the third octet is derived from the cluster id and moved on when another interface of the host already
uses that /24. The bridge is ``.1`` (the host side: NATS listens there, the public gateway connects to
pods from there), pod instances get ``.10`` to ``.250``. Names:
- bridge ``ab<8 hex of cluster id>``;
- namespace ``autonomy-<8 hex>-<zone>-<pod>-<clone>`` (a file in /run/netns, no length limit);
- veth host side ``av<10 hex of sha1(namespace)>``; the peer is moved in and renamed ``eth0``.
Inside each namespace ``lo`` is up (containers of a pod share localhost) and the default route goes via
the bridge. Every change is an ``ip`` command (a pod's are two ``ip -batch`` runs) run as a subprocess; a
failure raises ClusterError with the commands and ``ip``'s stderr.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import shutil
import subprocess

from autonomy.errors import ClusterError

__all__ = ["NetnsNetwork", "namespaces_available", "PodNamespace"]

SUBNET_BASE = "10.214"
FIRST_HOST = 10
LAST_HOST = 250


def namespaces_available() -> tuple[bool, str]:
    """Whether this process can create network namespaces, and if not, why not."""
    if shutil.which("ip") is None:
        return False, "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return False, "network namespaces with a bridge need root (run the controller as root)"
    return True, ""


def _run(*args: str) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout


async def _arun(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec("ip", *args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise ClusterError(f"`ip {' '.join(args)}` failed: {err.decode().strip()}")


async def _abatch(options: tuple[str, ...], commands: list[str]) -> None:
    """``ip [options] -batch -`` with ``commands``: one process; stops at the first failing command."""
    proc = await asyncio.create_subprocess_exec("ip", *options, "-batch", "-", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate("".join(f"{c}\n" for c in commands).encode())
    if proc.returncode != 0:
        raise ClusterError(f"`ip {' '.join(options)} -batch -` failed: {err.decode().strip()} "
                           f"(commands: {'; '.join(commands)})")


class PodNamespace:
    """One pod instance's namespace: ``name``, ``address`` (its IP on the bridge), ``veth``."""

    def __init__(self, name: str, address: str, veth: str) -> None:
        self.name = name
        self.address = address
        self.veth = veth

    @property
    def path(self) -> str:
        return f"/run/netns/{self.name}"

    def exec_prefix(self) -> list[str]:
        """The argv prefix that runs a command inside this namespace (nsenter execs, no extra process)."""
        return ["nsenter", f"--net={self.path}", "--"]


class NetnsNetwork:
    """The cluster's bridge and the namespaces of its pods. ``setup()`` first, ``teardown()`` last."""

    def __init__(self, cluster_id: str) -> None:
        self.cluster_id = cluster_id
        self.prefix = f"autonomy-{cluster_id[:8]}-"
        self.bridge = f"ab{cluster_id[:8]}"
        self.subnet: ipaddress.IPv4Network | None = None
        self._used: set[int] = set()

    @property
    def gateway(self) -> str:
        """The bridge's address (host side)."""
        if self.subnet is None:
            raise ClusterError("the pod network is not set up yet")
        return str(self.subnet.network_address + 1)

    def setup(self, keep: set[str] | frozenset[str] = frozenset()) -> bool:
        """Remove what a previous controller of this cluster left behind, then create the bridge.

        ``keep``: namespaces of pods being adopted (:mod:`.adoption`); they, the bridge and its subnet stay
        as they are (only the other namespaces are deleted). Returns whether they were kept (False: there
        was no bridge to keep, everything was made anew)."""
        if keep and self._adopt_bridge(keep):
            return True
        self.cleanup_stale()
        self.subnet = self._choose_subnet()
        _run("link", "add", self.bridge, "type", "bridge")
        _run("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _run("link", "set", self.bridge, "up")
        return False

    def _choose_subnet(self) -> ipaddress.IPv4Network:
        taken = set()
        for line in _run("-o", "-4", "addr").splitlines():
            for word in line.split():
                if "/" in word and word[0].isdigit():
                    taken.add(ipaddress.ip_interface(word).network)
        start = int(self.cluster_id[:4], 16) % 250 + 1
        for i in range(250):
            third = (start + i - 1) % 250 + 1
            net = ipaddress.IPv4Network(f"{SUBNET_BASE}.{third}.0/24")
            if not any(net.overlaps(t) for t in taken):
                return net
        raise ClusterError(f"no free /24 in {SUBNET_BASE}.0.0/16 for the pod network: remove unused bridges")

    def _adopt_bridge(self, keep: set[str] | frozenset[str]) -> bool:
        """Keep the existing bridge and the namespaces in ``keep``; False when there is no bridge to keep."""
        out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", self.bridge], capture_output=True,
                             text=True).stdout
        words = [w for w in out.split() if "/" in w and w[0].isdigit()]
        if not words:
            return False
        self.subnet = ipaddress.IPv4Interface(words[0]).network
        for name in self.list_namespaces():
            if name not in keep:
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
        return True

    def claim(self, address: str) -> None:
        """Mark ``address`` (an adopted pod's) as used."""
        self._used.add(int(address.rsplit(".", 1)[1]))

    def cleanup_stale(self) -> None:
        """Delete this cluster's namespaces and bridge (their veths go with the namespaces)."""
        for name in self.list_namespaces():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def _names(self) -> set[str]:
        return set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()

    def list_namespaces(self) -> list[str]:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(self.prefix)]

    async def create(self, zone: str, pod: str, clone: int) -> PodNamespace:
        """Create the namespace of ``zone``/``pod`` instance ``clone`` (deleted first if it exists)."""
        if self.subnet is None:
            raise ClusterError("the pod network is not set up yet")
        host = next((h for h in range(FIRST_HOST, LAST_HOST + 1) if h not in self._used), None)
        if host is None:
            raise ClusterError(f"the pod network {self.subnet} is full ({LAST_HOST - FIRST_HOST + 1} pods)")
        self._used.add(host)
        name = f"{self.prefix}{zone}-{pod}-{clone}"
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        veth, peer = f"av{digest}", f"ap{digest}"
        address = str(self.subnet.network_address + host)
        ns = PodNamespace(name, address, veth)
        # The pod's MAC is derived from its address: when an address is reused by a new namespace,
        # the host's ARP entry for it stays right (a random MAC left a stale entry for ~30 s).
        mac = "02:42:" + ":".join(f"{int(b):02x}" for b in address.split("."))
        try:
            if name in self._names():
                await _arun("netns", "del", name)
            # A namespace deleted a moment ago (a previous controller's, by cleanup_stale) takes its veth
            # down asynchronously: delete a host end still there, or adding the same name fails (EEXIST).
            if os.path.exists(f"/sys/class/net/{veth}"):  # noqa: ASYNC240 (sysfs: never blocks)
                proc = await asyncio.create_subprocess_exec("ip", "link", "del", veth,
                                                            stderr=asyncio.subprocess.DEVNULL)
                await proc.wait()
            # Two `ip -batch` runs (host side, then inside the namespace) instead of ten `ip` runs: with
            # 50 clones starting at once, process spawns were most of the pods' network set-up time.
            await _abatch((), [f"netns add {name}",
                               f"link add {veth} type veth peer name {peer} address {mac}",
                               f"link set {peer} netns {name}",
                               f"link set {veth} master {self.bridge} up"])
            await _abatch(("-n", name), ["link set lo up", f"link set {peer} name eth0",
                                         f"addr add {address}/24 dev eth0", "link set eth0 up",
                                         f"route add default via {self.gateway}"])
        except BaseException:
            await self.delete(ns)
            raise
        return ns

    async def delete(self, ns: PodNamespace) -> None:
        """Delete the namespace (its end of the veth goes with it) and the host end if still there."""
        proc = await asyncio.create_subprocess_exec("ip", "netns", "del", ns.name, stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()
        proc = await asyncio.create_subprocess_exec("ip", "link", "del", ns.veth, stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()
        proc = await asyncio.create_subprocess_exec("ip", "neigh", "flush", "to", ns.address, "dev", self.bridge,
                                                    stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()
        self._used.discard(int(ns.address.rsplit(".", 1)[1]))

    def teardown(self) -> None:
        """Delete every namespace of this cluster and the bridge."""
        self.cleanup_stale()
        self._used.clear()
        self.subnet = None
