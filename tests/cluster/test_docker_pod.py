"""What every container of the Docker runtime is given, without a Docker Engine."""

from autonomy.cluster.docker.pod import container_name, hardening, labels, limits


def test_sizes_become_a_cpu_quota_and_a_memory_limit_without_swap() -> None:
    assert limits("regular") == {"cpu_period": 100_000, "cpu_quota": 25_000, "mem_limit": 256 * 2**20,
                                 "memswap_limit": 256 * 2**20}
    # 4 CPUs as a quota: the engine refuses --cpus 4 on a 2-CPU host but enforces the quota
    assert limits("big")["cpu_quota"] == 400_000 and limits("big")["mem_limit"] == 2 * 2**30


def test_every_container_is_unprivileged_read_only_and_has_an_init() -> None:
    options = hardening()
    assert options["user"] == "10001:10001" and options["cap_drop"] == ["ALL"]
    assert options["security_opt"] == ["no-new-privileges"] and options["read_only"] is True
    assert set(options["tmpfs"]) == {"/tmp"} and options["init"] is True


def test_names_and_labels_identify_cluster_zone_pod_clone_and_container() -> None:
    cluster = "0123456789abcdef0123456789abcdef"
    assert container_name(cluster, "app", "runner-pod", 2, "runner") == "autonomy-01234567-app-runner-pod-2-runner"
    assert labels(cluster, "app", "runner-pod", 2, "runner") == {
        "computer.autonomy.cluster": cluster, "computer.autonomy.zone": "app", "computer.autonomy.pod": "runner-pod",
        "computer.autonomy.clone": "2", "computer.autonomy.container": "runner"}
