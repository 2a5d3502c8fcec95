"""TLS, mutual TLS, and named tokens with read and write roles, through a real server on loopback."""

import subprocess

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from probe_client import PermissionDenied, ProbeClient, Unauthenticated, Unavailable
from tests.conftest import BIN, SMALL_FACTS, start_server

WRITER, READER = "w" * 8 + "-writer-secret", "r" * 8 + "-reader-secret"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it (openssl)."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=probe-test-ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))  # fmt: skip
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=probe-{name}",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))  # fmt: skip
        (d / f"{name}.ext").write_text(extension + "\n")
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"),
                 "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"),
                 "-out", str(d / f"{name}.pem"))  # fmt: skip
    return d


@pytest.fixture(scope="module")
def tls_server(pki, tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    tokens = base / "tokens"
    tokens.write_text(f"# name role token\nalice write {WRITER}\nbob read {READER}\n")
    server = start_server(
        base / "data", "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
        "--token-file", str(tokens), client_options={"tls_ca": str(pki / "ca.pem"), "token": WRITER},
    )  # fmt: skip
    yield server
    server.stop()


def test_a_client_with_the_ca_works_and_one_without_is_told_about_tls(tls_server):
    with tls_server.client() as client:
        job = client.submit_job("factual-recall", SMALL_FACTS, steps=5, seed=1)
        assert client.wait(job.job_id).state == "SUCCEEDED"
    with ProbeClient(tls_server.address, token=WRITER, timeout=5) as plain, pytest.raises(Unavailable) as error:
        plain.list_jobs()
    assert "--tls-ca" in error.value.message
    assert "rpc=SubmitJob caller=alice" in tls_server.log()


def test_a_read_token_may_probe_and_list_but_not_submit_or_delete(tls_server):
    with tls_server.client() as writer:
        job = writer.wait(writer.submit_job("factual-recall", SMALL_FACTS, steps=5, seed=2).job_id)
    with tls_server.client(token=READER) as reader:
        assert any(j.job_id == job.job_id for j in reader.list_jobs()[0])
        assert len(reader.query_facts(job.checkpoint_id, [(0, 0)]).answers) == 1
        for call in (
            lambda: reader.submit_job("factual-recall", SMALL_FACTS, steps=5),
            lambda: reader.delete_checkpoint(job.checkpoint_id),
            lambda: reader.cancel_job(job.job_id),
        ):
            with pytest.raises(PermissionDenied, match="'bob' has the read role"):
                call()
        assert reader.get_checkpoint(job.checkpoint_id).checkpoint_id == job.checkpoint_id  # nothing deleted
    with tls_server.client(token="not-a-token") as stranger, pytest.raises(Unauthenticated):
        stranger.list_jobs()


def _channel(server, pki):
    credentials = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
    return grpc.secure_channel(server.address, credentials)


def test_reflection_needs_a_token_and_a_garbage_body_without_one_is_unauthenticated(tls_server, pki):
    with _channel(tls_server, pki) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as error:
            list(stub.ServerReflectionInfo(iter([request]), timeout=5))
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
        metadata = [("authorization", f"Bearer {READER}")]
        (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5, metadata=metadata))
        assert "probe.v1.JobService" in {s.name for s in reply.list_services_response.service}

        submit = channel.unary_unary("/probe.v1.JobService/SubmitJob")  # raw bytes in, raw bytes out
        garbage = b"\xff\xff\xff\xff not a protobuf message"
        with pytest.raises(grpc.RpcError) as error:
            submit(garbage, timeout=5)
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as error:
            submit(garbage, timeout=5, metadata=[("authorization", f"Bearer {WRITER}")])
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not a valid" in error.value.details()


def test_mutual_tls_refuses_a_client_without_a_certificate(pki, tmp_path):
    server = start_server(
        tmp_path / "data", "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
        "--tls-client-ca", str(pki / "ca.pem"),
        client_options={"tls_ca": str(pki / "ca.pem"), "tls_cert": str(pki / "client.pem"),
                        "tls_key": str(pki / "client.key")},
    )  # fmt: skip
    try:
        with server.client() as client:
            assert client.health() == "SERVING" and client.list_jobs()[0] == []
        anonymous = ProbeClient(server.address, tls_ca=str(pki / "ca.pem"), timeout=5)
        with anonymous, pytest.raises(Unavailable):
            anonymous.list_jobs()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("missing", "message"),
    [("server.key", "--tls-key: cannot read"), ("client-ca.pem", "--tls-client-ca: cannot read")],
)
def test_a_tls_file_that_cannot_be_read_stops_the_server_naming_its_flag(pki, tmp_path, missing, message):
    files = {name: pki / name for name in ("server.pem", "server.key")} | {"client-ca.pem": pki / "ca.pem"}
    files[missing] = tmp_path / missing  # not there
    started = subprocess.run(
        [str(BIN / "probe-server"), "serve", "--port", "0", "--metrics-port", "0", "--data-dir", str(tmp_path / "d"),
         "--tls-cert", str(files["server.pem"]), "--tls-key", str(files["server.key"]),
         "--tls-client-ca", str(files["client-ca.pem"])],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode != 0 and started.stdout == ""
    assert f"{message} {files[missing]}: No such file or directory" in started.stderr.splitlines()[-1]


def test_a_token_file_that_cannot_be_read_stops_the_server_naming_its_flag(tmp_path):
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00token")
    cases = {tmp_path / "missing": "cannot read {}: No such file or directory", binary: "{} is not UTF-8 text"}
    for path, message in cases.items():
        started = subprocess.run(
            [str(BIN / "probe-server"), "serve", "--port", "0", "--metrics-port", "0", "--data-dir",
             str(tmp_path / "d"), "--token-file", str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert started.returncode != 0 and started.stdout == ""
        assert started.stderr.splitlines()[-1] == "--token-file: " + message.format(path)
