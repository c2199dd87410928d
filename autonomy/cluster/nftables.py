"""Loading nftables rules: shared by the backends that isolate zones (the process and Docker runtimes).

A backend keeps its rules in tables of its cluster's own (``autonomy_<8 hex of the cluster id>``),
renders them whole and loads them with one ``nft -f -`` transaction; the global ruleset and other
tables are never touched. A failure raises :class:`ClusterError` with nft's message.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterable

from autonomy.errors import ClusterError

__all__ = ["firewall_available", "delete_tables", "load", "aload", "quote", "nft_set", "table_name"]


def table_name(cluster_id: str) -> str:
    """The name of cluster ``cluster_id``'s tables (in every family it uses)."""
    return f"autonomy_{cluster_id[:8]}"


def firewall_available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "nftables rules need root"
    if shutil.which("nft") is None:
        return False, "`nft` is not installed (apt-get install nftables)"
    return True, ""


def delete_tables(table: str) -> None:
    """Delete ``table`` in the bridge and inet families if present (used at teardown and by test clean-up)."""
    if shutil.which("nft") is None:
        return
    for family in ("bridge", "inet"):
        subprocess.run(["nft", "delete", "table", family, table], capture_output=True)


def quote(name: str) -> str:
    return f'"{name}"'


def nft_set(items: Iterable[str]) -> str:
    values = [i if i.isdigit() else quote(i) for i in items]
    return "{ " + ", ".join(values) + " }"


def load(ruleset: str) -> None:
    proc = subprocess.run(["nft", "-f", "-"], input=ruleset, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"loading the pod network's nftables rules failed: {proc.stderr.strip()}")


async def aload(ruleset: str) -> None:
    proc = await asyncio.create_subprocess_exec("nft", "-f", "-", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate(ruleset.encode())
    if proc.returncode != 0:
        raise ClusterError(f"loading the pod network's nftables rules failed: {err.decode().strip()}")
