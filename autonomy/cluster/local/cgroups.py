"""Resource limits per pod instance from the pod's ``size``.

``regular``: 0.25 CPU and 256 MiB; ``big``: 4 CPU and 2 GiB (the sizes of the Runtime Architecture).
Enforced with cgroup v2 when a unified hierarchy with the ``cpu`` and ``memory`` controllers is writable
(``/sys/fs/cgroup``), else with cgroup v1 when its ``cpu`` and ``memory`` hierarchies are writable (hybrid
hosts such as this project's CI machines), else not enforced: :meth:`Limits.status` says which and why,
and ``zone status`` shows it. A process joins its pod's group before it execs (see ``join_argv``), so
its children are inside too.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SIZES", "CgroupManager", "PodCgroup"]

PERIOD_US = 100_000
SIZES: dict[str, tuple[float, int]] = {"regular": (0.25, 256 * 2**20), "big": (4.0, 2 * 2**30)}
ROOT = Path("/sys/fs/cgroup")


@dataclass
class PodCgroup:
    """The cgroup directories of one pod instance (empty when limits are not enforced)."""

    size: str
    cpu: float
    memory: int
    dirs: list[Path]
    enforced: str | None  # "cgroup2", "cgroup1" or None
    reason: str = ""

    def status(self) -> dict[str, object]:
        return {"size": self.size, "cpu": self.cpu, "memory_bytes": self.memory,
                "enforced": self.enforced is not None, "mechanism": self.enforced or f"none: {self.reason}"}

    def join_argv(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped so that the process writes itself into the groups, then execs ``argv``."""
        if not self.dirs:
            return argv
        writes = "; ".join(f'echo $$ > "{d}/cgroup.procs"' for d in self.dirs)
        return ["/bin/sh", "-c", f'{writes}; exec "$@"', "sh", *argv]

    def remove(self) -> None:
        """Remove the groups (they must be empty: call after every process has exited)."""
        for d in self.dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


class CgroupManager:
    """Creates a group per pod instance under ``autonomy-<cluster8>`` in whichever hierarchy works."""

    def __init__(self, cluster_id: str, root: Path = ROOT) -> None:
        self.name = f"autonomy-{cluster_id[:8]}"
        self.root = root
        self.mechanism, self.reason = self._detect()

    def _detect(self) -> tuple[str | None, str]:
        v2 = self.root / "cgroup.controllers"
        if v2.exists():
            controllers = v2.read_text().split()
            if not {"cpu", "memory"} <= set(controllers):
                return None, f"cgroup v2 at {self.root} lacks the cpu/memory controllers ({' '.join(controllers)})"
            if not os.access(self.root, os.W_OK):
                return None, f"{self.root} is not writable (run the controller as root)"
            return "cgroup2", ""
        cpu, mem = self.root / "cpu", self.root / "memory"
        if (cpu / "cpu.cfs_quota_us").exists() and (mem / "memory.limit_in_bytes").exists():
            if os.access(cpu, os.W_OK) and os.access(mem, os.W_OK):
                return "cgroup1", ""
            return None, f"{cpu} and {mem} are not writable (run the controller as root)"
        return None, f"no cgroup v2 or v1 cpu+memory hierarchy under {self.root}"

    def create(self, zone: str, pod: str, clone: int, size: str) -> PodCgroup:
        cpu, memory = SIZES.get(size, SIZES["regular"])
        group = PodCgroup(size, cpu, memory, [], self.mechanism, self.reason)
        leaf = f"{zone}-{pod}-{clone}"
        try:
            if self.mechanism == "cgroup2":
                parent = self.root / self.name
                parent.mkdir(exist_ok=True)
                (parent / "cgroup.subtree_control").write_text("+cpu +memory")
                d = parent / leaf
                d.mkdir(exist_ok=True)
                (d / "cpu.max").write_text(f"{int(cpu * PERIOD_US)} {PERIOD_US}")
                (d / "memory.max").write_text(str(memory))
                group.dirs = [d]
            elif self.mechanism == "cgroup1":
                cpu_dir = self.root / "cpu" / self.name / leaf
                mem_dir = self.root / "memory" / self.name / leaf
                cpu_dir.mkdir(parents=True, exist_ok=True)
                mem_dir.mkdir(parents=True, exist_ok=True)
                (cpu_dir / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (cpu_dir / "cpu.cfs_quota_us").write_text(str(int(cpu * PERIOD_US)))
                (mem_dir / "memory.limit_in_bytes").write_text(str(memory))
                group.dirs = [cpu_dir, mem_dir]
        except OSError as exc:
            group.remove()
            group.dirs, group.enforced, group.reason = [], None, f"creating the cgroup failed: {exc}"
        return group

    def remove_all(self) -> None:
        """Remove this cluster's (empty) groups: used at controller stop and start."""
        parents = [self.root / self.name, self.root / "cpu" / self.name, self.root / "memory" / self.name]
        for parent in parents:
            if parent.is_dir():
                for d in parent.iterdir():
                    if d.is_dir():
                        with contextlib.suppress(OSError):
                            d.rmdir()
                with contextlib.suppress(OSError):
                    parent.rmdir()
