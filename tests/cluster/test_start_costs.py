"""What the local runtime does per pod at start, made cheaper (docs/startup.md): the zone rules of
concurrently starting pods share nft loads, the zone's /etc is one mount, autonomy is byte-compiled."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

import autonomy.cluster.local.firewall as firewall
from autonomy.cluster.local.bytecode import ensure_bytecode
from autonomy.cluster.local.firewall import PodFirewall
from autonomy.cluster.local.sandbox import Sandbox, SandboxPlan, sandbox_available, write_identity_files
from autonomy.errors import ClusterError

CLUSTER = "0123456789abcdef0123456789abcdef"


async def test_pods_starting_together_share_nft_loads_and_each_returns_once_its_rule_is_loaded(monkeypatch):
    loads: list[str] = []

    async def load(ruleset: str) -> None:
        loads.append(ruleset)
        await asyncio.sleep(0)  # a real load awaits nft: the other pods' changes arrive meanwhile

    monkeypatch.setattr(firewall, "_anft", load)
    fw = PodFirewall(CLUSTER, "ab01234567", "10.214.9.1")

    async def add(i: int) -> bool:
        await fw.add_pod("a", f"av{i:03d}")
        return f'"av{i:03d}"' in loads[-1]  # the last load when add_pod returned holds this pod

    assert all(await asyncio.gather(*(add(i) for i in range(50))))
    assert len(loads) <= 3  # one for the first pod, one (or two) for the rest; was one per pod
    await asyncio.gather(*(fw.remove_pod(f"av{i:03d}") for i in range(50)))
    assert "av0" not in loads[-1] and len(loads) <= 6


async def test_a_failed_nft_load_fails_the_pods_it_held_and_the_next_change_loads_them_again(monkeypatch):
    loads: list[str] = []

    async def load(ruleset: str) -> None:
        loads.append(ruleset)
        if len(loads) == 1:
            raise ClusterError("loading the pod network's nftables rules failed: boom")

    monkeypatch.setattr(firewall, "_anft", load)
    fw = PodFirewall(CLUSTER, "ab01234567", "10.214.9.1")
    with pytest.raises(ClusterError, match="boom"):
        await fw.add_pod("a", "av1")
    await fw.add_pod("a", "av2")
    assert '"av1"' in loads[-1] and '"av2"' in loads[-1]


def test_the_zone_etc_is_one_mount_of_copies_with_the_trees_bound_live(tmp_path: Path):
    plan = SandboxPlan(uid=212_345, passwd=write_identity_files(tmp_path, "shop", 212_345))
    etc = tmp_path / "etc"
    assert plan.etc == etc
    assert "zone-shop:x:212345:212345:" in (etc / "passwd").read_text()
    if Path("/etc/hosts").is_file():
        assert (etc / "hosts").read_bytes() == Path("/etc/hosts").read_bytes()
        assert oct((etc / "hosts").stat().st_mode & 0o777) == "0o644"
    argv = Sandbox(bwrap="bwrap").wrap(["true"], plan, with_credentials=False)
    targets = [argv[i + 2] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")]
    assert targets.count("/etc") == 1
    assert not [t for t in targets if t.startswith("/etc/") and Path(t).name not in ("ssl", "ca-certificates",
                                                                                      "ld.so.conf.d", "alternatives")]
    assert "shadow" not in os.listdir(etc)


def test_identity_files_follow_the_host_and_are_rewritten_only_when_changed(tmp_path: Path):
    write_identity_files(tmp_path, "shop", 212_345)
    passwd = tmp_path / "etc" / "passwd"
    before = passwd.stat().st_ino
    write_identity_files(tmp_path, "shop", 212_345)
    assert passwd.stat().st_ino == before  # unchanged: not rewritten under the running clones
    write_identity_files(tmp_path, "shop", 212_346)
    assert "212346" in passwd.read_text()


@pytest.mark.skipif(not sandbox_available()[0], reason=f"no sandbox here: {sandbox_available()[1]}")
def test_inside_the_sandbox_etc_answers_as_the_host_does(tmp_path: Path):
    plan = SandboxPlan(uid=212_345, passwd=write_identity_files(tmp_path, "shop", 212_345))
    probe = ("import os, pwd, socket, ssl, mimetypes; print(pwd.getpwuid(os.getuid()).pw_name, "
             "socket.getservbyname('http'), mimetypes.guess_type('a.json')[0], "
             "ssl.create_default_context().cert_store_stats()['x509_ca'] > 0, os.access('/etc/hosts', os.W_OK))")
    argv = Sandbox().wrap([sys.executable, "-c", probe], plan, with_credentials=False)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["zone-shop", "80", "application/json", "True", "False"]


def test_bytecode_is_written_once_for_a_writable_package_and_skipped_for_a_read_only_one(tmp_path: Path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("X = 1\n")
    assert ensure_bytecode(package)
    cached = list((package / "__pycache__").glob("mod.*.pyc"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    assert ensure_bytecode(package)
    assert cached[0].stat().st_mtime_ns == mtime  # up to date: not compiled again
    if os.geteuid() != 0:  # root writes anywhere: the read-only case is only observable as a user
        package.chmod(0o555)
        try:
            assert not ensure_bytecode(package)
        finally:
            package.chmod(0o755)
