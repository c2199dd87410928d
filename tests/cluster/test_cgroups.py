"""Pod size -> cgroup limits, against fake cgroup trees (the real one is exercised by test_local_zones)."""

from __future__ import annotations

from pathlib import Path

from autonomy.cluster.local.cgroups import CgroupManager

CLUSTER = "0123456789abcdef0123456789abcdef"


def test_cgroup_v2_limits_for_a_big_pod(tmp_path: Path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    group = CgroupManager(CLUSTER, root=tmp_path).create("shop", "main-pod", 0, "big")
    leaf = tmp_path / "autonomy-01234567" / "shop-main-pod-0"
    assert group.status()["enforced"] and group.status()["mechanism"] == "cgroup2"
    assert (leaf / "cpu.max").read_text() == "400000 100000"
    assert (leaf / "memory.max").read_text() == str(2 * 2**30)
    assert (tmp_path / "autonomy-01234567" / "cgroup.subtree_control").read_text() == "+cpu +memory"
    assert group.join_argv(["python", "main.py"])[-2:] == ["python", "main.py"]


def test_cgroup_v1_limits_for_a_regular_pod(tmp_path: Path):
    for hierarchy, knob in (("cpu", "cpu.cfs_quota_us"), ("memory", "memory.limit_in_bytes")):
        (tmp_path / hierarchy).mkdir()
        (tmp_path / hierarchy / knob).write_text("-1\n")
    group = CgroupManager(CLUSTER, root=tmp_path).create("shop", "runner-pod", 2, "regular")
    assert group.status()["mechanism"] == "cgroup1"
    assert (tmp_path / "cpu/autonomy-01234567/shop-runner-pod-2/cpu.cfs_quota_us").read_text() == "25000"
    assert (tmp_path / "memory/autonomy-01234567/shop-runner-pod-2/memory.limit_in_bytes").read_text() == str(
        256 * 2**20)


def test_limits_not_enforced_are_reported_with_the_reason(tmp_path: Path):
    (tmp_path / "cgroup.controllers").write_text("pids\n")
    group = CgroupManager(CLUSTER, root=tmp_path).create("shop", "main-pod", 0, "regular")
    status = group.status()
    assert status["enforced"] is False and "lacks the cpu/memory controllers" in status["mechanism"]
    assert status["cpu"] == 0.25 and status["memory_bytes"] == 256 * 2**20
    assert group.join_argv(["python", "main.py"]) == ["python", "main.py"]
