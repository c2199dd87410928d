"""What every container of the Docker runtime is given, and its zone rules, without a Docker Engine."""

import os
import shutil
import subprocess

import pytest

from autonomy.cluster.docker.appdir import app_directory, app_dirs_available, own_app_directory
from autonomy.cluster.docker.firewall import ZoneFirewall
from autonomy.cluster.docker.pod import container_name, hardening, labels, limits


def test_sizes_become_a_cpu_quota_and_a_memory_limit_without_swap() -> None:
    assert limits("regular") == {"cpu_period": 100_000, "cpu_quota": 25_000, "mem_limit": 256 * 2**20,
                                 "memswap_limit": 256 * 2**20}
    # 4 CPUs as a quota: the engine refuses --cpus 4 on a 2-CPU host but enforces the quota
    assert limits("big")["cpu_quota"] == 400_000 and limits("big")["mem_limit"] == 2 * 2**30


def test_every_container_is_unprivileged_read_only_and_has_an_init() -> None:
    options = hardening(212345)  # the zone's uid
    assert options["user"] == "212345:212345" and options["cap_drop"] == ["ALL"]
    assert options["security_opt"] == ["no-new-privileges"] and options["read_only"] is True
    assert set(options["tmpfs"]) == {"/tmp"} and options["init"] is True


def test_names_and_labels_identify_cluster_zone_pod_clone_and_container() -> None:
    cluster = "0123456789abcdef0123456789abcdef"
    assert container_name(cluster, "app", "runner-pod", 2, "runner") == "autonomy-01234567-app-runner-pod-2-runner"
    assert labels(cluster, "app", "runner-pod", 2, "runner") == {
        "computer.autonomy.cluster": cluster, "computer.autonomy.zone": "app", "computer.autonomy.pod": "runner-pod",
        "computer.autonomy.clone": "2", "computer.autonomy.container": "runner"}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="nft -c needs root and nft")
def test_the_zone_rules_let_zone_bridges_reach_only_the_service_ports_and_are_valid_nftables() -> None:
    firewall = ZoneFirewall("0123456789abcdef", "10.224.16.1")
    firewall.ports = (4100, 4222)
    empty = firewall.render()  # no zone yet: empty sets, still a loadable table
    firewall._bridges = {"aza", "azb"}
    rules = firewall.render()
    assert 'elements = { "aza" . "aza", "azb" . "azb" }' in rules  # same bridge only: no zone reaches another
    assert "iifname @zone_bridges ip daddr 10.224.16.1 tcp dport { 4100, 4222 } accept" in rules
    assert rules.index("dport { 4100, 4222 } accept") < rules.index("iifname @zone_bridges drop")
    assert "table inet autonomy_01234567 {" in rules and "flush ruleset" not in rules
    for ruleset in (empty, rules):
        check = subprocess.run(["nft", "-c", "-f", "-"], input=ruleset, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_the_app_directory_is_the_images_workdir_unless_that_is_the_root() -> None:
    assert app_directory({"Config": {"WorkingDir": "/app"}}) == "/app"
    assert app_directory({"Config": {"WorkingDir": "/usr/src/app/"}}) == "/usr/src/app"
    assert app_directory({"Config": {"WorkingDir": "/"}}) is None
    assert app_directory({"Config": {"WorkingDir": ""}}) is None and app_directory({}) is None


def test_only_overlay2_layers_get_a_writable_app_directory(tmp_path) -> None:
    assert app_dirs_available("vfs") == (False, "the Docker Engine's storage driver is 'vfs', not overlay2")
    assert own_app_directory({"GraphDriver": {"Name": "vfs", "Data": {"UpperDir": str(tmp_path)}}}, "/app", 1) is False
    assert not (tmp_path / "app").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another uid needs root")
def test_the_app_directory_is_given_to_the_zone_uid_in_the_containers_own_layer(tmp_path) -> None:
    attrs = {"GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": str(tmp_path)}}}
    assert own_app_directory(attrs, "/usr/src/app", 212345) is True
    app, parent = (tmp_path / "usr/src/app").stat(), (tmp_path / "usr/src").stat()
    assert (app.st_uid, app.st_gid, app.st_mode & 0o777) == (212345, 212345, 0o755)
    assert (parent.st_uid, parent.st_mode & 0o777) == (0, 0o755)  # only the app directory is the zone's
    assert own_app_directory(attrs, "/app/../etc", 212345) is False and not (tmp_path / "etc").exists()
