import ssl

import nats
import pytest

from autonomy.errors import ConfigError, FabricError
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import DEFAULT_MAX_PAYLOAD, EmbeddedNats


async def _connect(url, creds, password=None):
    ctx = ssl.create_default_context(cadata=creds.tls.ca_cert_pem)

    async def quiet(_exc):
        pass

    return await nats.connect(url, user=creds.user, password=password or creds.password, tls=ctx,
                              allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3,
                              error_cb=quiet)


async def test_embedded_server_accepts_its_cluster_over_tls_when_start_returns():
    creds = ClusterCredentials.generate()
    with EmbeddedNats([creds]) as server:
        assert server.url.startswith("tls://127.0.0.1:")
        nc = await _connect(server.url, creds)
        assert nc.max_payload == DEFAULT_MAX_PAYLOAD
        await nc.close()
    assert not server.running


async def test_embedded_server_refuses_a_wrong_password():
    creds = ClusterCredentials.generate()
    with EmbeddedNats([creds]) as server:
        with pytest.raises(nats.errors.Error, match="Authorization"):
            await _connect(server.url, creds, password="wrong")


async def test_two_clusters_on_one_server_do_not_see_each_others_subjects():
    a = ClusterCredentials.generate()
    b = ClusterCredentials.generate(tls=a.tls)
    with EmbeddedNats([a, b]) as server:
        nca, ncb = await _connect(server.url, a), await _connect(server.url, b)
        sub = await nca.subscribe("secret")
        await nca.flush()
        with pytest.raises(nats.errors.NoRespondersError):
            await ncb.request("secret", b"hi", timeout=2)
        await ncb.publish("secret", b"hi")
        await ncb.flush()
        with pytest.raises(nats.errors.TimeoutError):
            await sub.next_msg(timeout=0.2)
        await nca.close()
        await ncb.close()


def test_stop_is_idempotent_and_cleans_its_temporary_directory():
    server = EmbeddedNats([ClusterCredentials.generate()])
    server.start()
    workdir = server._workdir
    server.stop()
    server.stop()
    assert workdir is not None and not workdir.exists()


def test_a_server_that_cannot_start_raises_fabric_error_with_its_output(tmp_path):
    creds = ClusterCredentials.generate()
    with EmbeddedNats([creds]) as first:
        with pytest.raises(FabricError, match="nats-server"):
            EmbeddedNats([creds], port=first.port, workdir=tmp_path).start()


def test_a_missing_binary_is_a_clear_error():
    with pytest.raises(FabricError):
        EmbeddedNats([ClusterCredentials.generate()], binary="/nonexistent/nats-server").start()


def test_no_clusters_is_a_config_error():
    with pytest.raises(ConfigError):
        EmbeddedNats([])
