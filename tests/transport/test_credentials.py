import json
import os
import stat

import pytest

from autonomy.errors import ConfigError, FabricError
from autonomy.transport.credentials import ClusterCredentials, load_node_credentials


def test_generated_credentials_have_a_32_hex_cluster_id_and_hide_the_password():
    creds = ClusterCredentials.generate()
    assert len(creds.cluster) == 32 and int(creds.cluster, 16) >= 0 and creds.cluster == creds.cluster.lower()
    assert creds.password not in repr(creds)
    assert creds.tls.ca_key_pem not in repr(creds)


def test_a_bad_cluster_id_is_refused_with_the_value():
    with pytest.raises(ConfigError, match="'ABC'"):
        ClusterCredentials.generate("ABC")


def test_credentials_saved_with_mode_0600_load_back_equal(tmp_path):
    creds = ClusterCredentials.generate(hosts=["10.213.0.1"])
    creds.save(tmp_path / "c")
    for file in (tmp_path / "c").iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert ClusterCredentials.load(tmp_path / "c") == creds


def test_loading_missing_credentials_names_the_directory(tmp_path):
    with pytest.raises(ConfigError, match=str(tmp_path)):
        ClusterCredentials.load(tmp_path)


def test_server_certificate_covers_loopback_and_extra_hosts():
    from cryptography import x509

    creds = ClusterCredentials.generate(hosts=["10.213.0.1", "nats.local"])
    cert = x509.load_pem_x509_certificate(creds.tls.server_cert_pem.encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "10.213.0.1"} <= ips
    assert {"localhost", "nats.local"} <= set(sans.get_values_for_type(x509.DNSName))


def test_with_hosts_keeps_the_ca_so_node_files_stay_valid():
    creds = ClusterCredentials.generate()
    wider = creds.with_hosts(["10.0.0.5"])
    assert wider.tls.ca_cert_pem == creds.tls.ca_cert_pem
    assert "10.0.0.5" in wider.tls.hosts


def test_node_credentials_file_round_trips(tmp_path):
    creds = ClusterCredentials.generate()
    path = creds.write_node_credentials(tmp_path / "node" / "fabric.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"cluster", "user", "password", "ca_pem"}
    node = load_node_credentials(path)
    assert (node.cluster, node.user, node.password, node.ca_pem) == (
        creds.cluster, creds.user, creds.password, creds.tls.ca_cert_pem)


def test_a_broken_node_credentials_file_raises_fabric_error_naming_it(tmp_path):
    path = tmp_path / "fabric.json"
    path.write_text(json.dumps({"cluster": "0" * 32, "user": "u"}))
    with pytest.raises(FabricError, match="password"):
        load_node_credentials(path)
    with pytest.raises(FabricError, match="missing.json"):
        load_node_credentials(tmp_path / "missing.json")
