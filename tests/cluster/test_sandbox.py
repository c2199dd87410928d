"""The sandbox's argv, the zone rules' ruleset, and the isolation record (no cluster started).

A sandboxed container's behaviour is proven end to end in test_isolation.py; here: what is rendered.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from autonomy.cluster.local.firewall import PodFirewall
from autonomy.cluster.local.isolation import Isolation
from autonomy.cluster.local.sandbox import (
    CREDENTIALS_PATH,
    DATA_FD,
    SECCOMP_FD,
    Sandbox,
    SandboxPlan,
    sandbox_available,
    write_identity_files,
    zone_uid,
)
from autonomy.cluster.local.seccomp import filter_program
from autonomy.cluster.state import ClusterState
from autonomy.errors import ClusterError

CLUSTER = "0123456789abcdef0123456789abcdef"


def test_each_zone_gets_its_own_stable_unprivileged_uid():
    uids = {zone_uid(CLUSTER, z) for z in ("a", "b", "shop", "attack")}
    assert len(uids) == 4 and min(uids) >= 200_000 and max(uids) < 2**31
    assert zone_uid(CLUSTER, "a") == zone_uid(CLUSTER, "a") != zone_uid("f" * 32, "a")


def test_the_argv_drops_privileges_and_pipes_the_credentials_never_naming_a_host_file(tmp_path):
    plan = SandboxPlan(uid=200_001, app_path=tmp_path / "images/main", app_copy=tmp_path / "run/main",
                       chdir=tmp_path / "images/main", passwd=write_identity_files(tmp_path, "a", 200_001))
    argv = Sandbox(bwrap="bwrap").wrap(["python", "main.py"], plan, with_credentials=True)
    sep = argv.index("--")
    bwrap, rest = argv[:sep], argv[sep + 1:]
    for flag in ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent"):
        assert flag in bwrap
    assert bwrap[bwrap.index("--ro-bind-data") + 1:][:2] == [DATA_FD, CREDENTIALS_PATH]
    assert ["--bind", str(tmp_path / "run/main"), str(tmp_path / "images/main")] == \
        bwrap[bwrap.index("--bind"):bwrap.index("--bind") + 3]
    assert rest[:7] == [Sandbox().setpriv, "--reuid=200001", "--regid=200001", "--clear-groups", "--inh-caps=-all",
                        "--bounding-set=-all", "--no-new-privs"]
    assert rest[-3:] == ["--", "python", "main.py"]
    assert "--unshare-net" not in bwrap  # the pod's network namespace is joined before (nsenter)
    assert "--seccomp" not in bwrap
    with_filter = Sandbox(bwrap="bwrap").wrap(["true"], plan, with_credentials=False, seccomp=True)
    assert with_filter[with_filter.index("--seccomp") + 1] == SECCOMP_FD


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the syscall filter is built for x86_64 only")
def test_the_syscall_filter_is_a_well_formed_program():
    program = filter_program()
    assert program is not None and len(program) % 8 == 0
    codes = [struct.unpack("<HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    assert codes[-1] == (0x06, 0, 0, 0x7FFF0000)  # ends allowing (a clone without CLONE_NEWUSER)
    for i, (code, jt, jf, _) in enumerate(codes):  # every jump lands inside the program
        if code & 0x07 == 0x05:
            assert i + 1 + max(jt, jf) < len(codes)


@pytest.mark.skipif(not sandbox_available()[0], reason=f"no sandbox here: {sandbox_available()[1]}")
def test_parents_of_the_mounts_are_traversable_by_the_zone_uid(tmp_path):
    """bwrap copies the host's mode onto parents it creates (/root 0700 would hide the interpreter)."""
    plan = SandboxPlan(uid=200_002, passwd=write_identity_files(tmp_path, "b", 200_002))
    argv = Sandbox().wrap([sys.executable, "-c", "import autonomy, os; print(os.getuid())"], plan,
                          with_credentials=False)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "200002"


def test_a_pods_rules_keep_zones_apart_and_only_the_fabric_ports_open():
    fw = PodFirewall(CLUSTER, "ab01234567", "10.214.9.1")
    fw.ports = (4100, 4222)
    fw._pods = {"av1": "a", "av2": "a", "av3": "b"}
    rules = fw.render()
    assert 'chain zone_a {\n    oifname { "av1", "av2" } accept\n    drop' in rules
    assert 'iifname vmap { "av1" : jump zone_a, "av2" : jump zone_a, "av3" : jump zone_b }' in rules
    assert 'iifname "ab01234567" ip daddr 10.214.9.1 tcp dport { 4100, 4222 } accept' in rules
    assert "flush ruleset" not in rules and rules.count("delete table") == 2  # only our own tables
    if os.geteuid() == 0 and shutil.which("nft"):
        check = subprocess.run(["nft", "-c", "-f", "-"], input=rules, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_a_cluster_that_ran_sandboxed_refuses_to_run_zones_unsandboxed(tmp_path):
    state = ClusterState(tmp_path / "state.db")
    try:
        sandboxed = Isolation(CLUSTER, state, Sandbox(bwrap="bwrap"))
        sandboxed.check()
        sandboxed.record()
        assert state.get_setting("isolation") == "sandbox"
        lost = Isolation(CLUSTER, state, None, "`bwrap` is not installed (apt-get install bubblewrap)")
        with pytest.raises(ClusterError, match="ran its zones sandboxed.*bwrap.*AUTONOMY_ISOLATION=none"):
            lost.check()
        Isolation(CLUSTER, state, None, "AUTONOMY_ISOLATION=none").check()  # said in so many words
    finally:
        state.close()


def test_the_status_line_says_why_there_is_no_isolation():
    iso = Isolation(CLUSTER, None, None, "the sandbox needs a controller running as root")  # type: ignore[arg-type]
    assert iso.summary == ("none (the sandbox needs a controller running as root); "
                           "network: none (pods share the host network)")


def test_identity_files_name_the_zone_user(tmp_path: Path):
    passwd = write_identity_files(tmp_path, "shop", 212_345)
    assert "zone-shop:x:212345:212345:" in passwd.read_text()
    assert oct(passwd.stat().st_mode & 0o777) == "0o644"
