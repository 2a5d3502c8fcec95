"""Every RPC refuses bad input with the right status, names the problem, and changes nothing stored."""

import hashlib

import grpc
import numpy as np
import pytest

from probe_client import ProbeClient, ProbeError
from probe_wire.v1 import probes_pb2, tensor_pb2
from tests.conftest import SMALL_FACTS, start_server

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
MISSING_JOB = "job-0123456789abcdef"
MISSING_CKPT = "ckpt-0123456789abcdef"


def snapshot(client: ProbeClient, data_dir) -> tuple:
    jobs, _ = client.list_jobs(page_size=1000)
    checkpoints, _ = client.list_checkpoints(page_size=1000)
    files = {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((data_dir / "checkpoints").rglob("*"))
        if p.is_file() and p.name != "model.onnx"  # the ONNX graph is a cache, exported on first query
    }
    job_view = [(j.job_id, j.state, j.step, j.checkpoint_id) for j in jobs if j.state not in ("QUEUED", "RUNNING")]
    return job_view, [c.checkpoint_id for c in checkpoints], files


def cases(ckpt: str, am_ckpt: str, job_id: str):
    big = np.zeros((2, 10_000), dtype=np.int64)
    return {
        "SubmitJob unknown family": (lambda c: c.submit_job("gpt-5"), INVALID, "unknown family"),
        "SubmitJob unknown key": (
            lambda c: c.submit_job("factual-recall", {"num_subjectz": 3}),
            INVALID,
            "num_subjectz",
        ),
        "SubmitJob out of range": (
            lambda c: c.submit_job("factual-recall", {"num_subjects": 0}),
            INVALID,
            "num_subjects",
        ),
        "SubmitJob non-finite": (lambda c: c.submit_job("factual-recall", {"lr": float("nan")}), INVALID, "lr"),
        "SubmitJob wrong type": (lambda c: c.submit_job("factual-recall", {"model": 3}), INVALID, "model"),
        "SubmitJob negative steps": (lambda c: c.submit_job("factual-recall", steps=-1), INVALID, "steps"),
        "SubmitJob too many steps": (lambda c: c.submit_job("factual-recall", steps=10**9), EXHAUSTED, "steps"),
        "SubmitJob huge model": (
            lambda c: c.submit_job("factual-recall", {"d_model": 8192, "mlp_width": 1_000_000}),
            EXHAUSTED,
            "parameters",
        ),
        "SubmitJob seed too big": (lambda c: c.submit_job("factual-recall", seed=2**64 - 1), INVALID, "seed"),
        "SubmitJob mezo eps 0": (
            lambda c: c.submit_job("factual-recall", optimizer="mezo", optimizer_config={"eps": 0.0}),
            INVALID,
            "eps",
        ),
        "SubmitJob mezo negative eps": (
            lambda c: c.submit_job("factual-recall", optimizer="mezo", optimizer_config={"eps": -1e-3}),
            INVALID,
            "eps",
        ),
        "SubmitJob mezo n_spsa 0": (
            lambda c: c.submit_job("factual-recall", optimizer="mezo", optimizer_config={"n_spsa": 0}),
            INVALID,
            "n_spsa",
        ),
        "SubmitJob accuracy without classes": (
            lambda c: c.submit_job("causal-icl", optimizer="mezo", optimizer_config={"objective": "accuracy"}),
            INVALID,
            "no classification target",
        ),
        "SubmitJob unknown optimizer": (
            lambda c: c.submit_job("factual-recall", optimizer="adagrad"),
            INVALID,
            "unknown optimizer",
        ),
        "SubmitJob optimizer config alone": (
            lambda c: c.submit_job("factual-recall", optimizer_config={"eps": 1e-3}),
            INVALID,
            "needs an optimizer",
        ),
        "SubmitJob missing init checkpoint": (
            lambda c: c.submit_job("factual-recall", init_checkpoint=MISSING_CKPT),
            NOT_FOUND,
            MISSING_CKPT,
        ),
        "SubmitJob init from another family": (
            lambda c: c.submit_job("eos", init_checkpoint=ckpt),
            PRECONDITION,
            "factual-recall model",
        ),
        "SubmitJob hf path missing": (
            lambda c: c.submit_job("lm-finetune", {"model": "hf", "hf_path": "/nonexistent/model"}),
            grpc.StatusCode.PERMISSION_DENIED,
            "inside the server's data roots",
        ),
        "SubmitJob hf path not given": (lambda c: c.submit_job("lm-finetune", {"model": "hf"}), INVALID, "hf_path"),
        "SubmitSweep mezo eps 0": (
            lambda c: c.submit_sweep(
                "factual-recall", grid={"lr": [0.1]}, optimizer="mezo", optimizer_config={"eps": 0.0}
            ),
            INVALID,
            "eps",
        ),
        "GetJob malformed id": (lambda c: c.get_job("../../etc/passwd"), INVALID, "malformed job_id"),
        "GetJob empty id": (lambda c: c.get_job(""), INVALID, "job_id is required"),
        "GetJob unknown id": (lambda c: c.get_job(MISSING_JOB), NOT_FOUND, MISSING_JOB),
        "ListJobs bad token": (lambda c: c.list_jobs(page_token="drop table"), INVALID, "page_token"),
        "ListJobs token past 63 bits": (lambda c: c.list_jobs(page_token="r" + "9" * 19), INVALID, "page_token"),
        "ListCheckpoints unicode digit": (lambda c: c.list_checkpoints(page_token="r²"), INVALID, "page_token"),
        "ListSweeps unicode digit": (lambda c: c.list_sweeps(page_token="r²"), INVALID, "page_token"),
        "ListJobs negative page": (lambda c: c.list_jobs(page_size=-3), INVALID, "page_size"),
        "ListJobs unknown family": (lambda c: c.list_jobs(family="nope"), INVALID, "unknown family"),
        "CancelJob finished": (lambda c: c.cancel_job(job_id), PRECONDITION, "SUCCEEDED"),
        "CancelJob unknown": (lambda c: c.cancel_job(MISSING_JOB), NOT_FOUND, MISSING_JOB),
        "ResumeJob finished": (lambda c: c.resume_job(job_id), PRECONDITION, "SUCCEEDED"),
        "ResumeJob malformed": (lambda c: c.resume_job("job-XYZ"), INVALID, "malformed"),
        "WatchJob unknown": (lambda c: list(c.watch_job(MISSING_JOB)), NOT_FOUND, MISSING_JOB),
        "WatchJob negative step": (lambda c: list(c.watch_job(job_id, from_step=-1)), INVALID, "from_step"),
        "ListCheckpoints malformed job": (lambda c: c.list_checkpoints(job_id="/tmp"), INVALID, "malformed"),
        "GetCheckpoint traversal": (lambda c: c.get_checkpoint("ckpt-../../probe.db"), INVALID, "malformed"),
        "GetCheckpoint unknown": (lambda c: c.get_checkpoint(MISSING_CKPT), NOT_FOUND, MISSING_CKPT),
        "DeleteCheckpoint unknown": (lambda c: c.delete_checkpoint(MISSING_CKPT), NOT_FOUND, MISSING_CKPT),
        "DeleteCheckpoint malformed": (lambda c: c.delete_checkpoint(".."), INVALID, "malformed"),
        "ExportCheckpoint unknown": (lambda c: c.export_onnx(MISSING_CKPT, _Sink()), NOT_FOUND, MISSING_CKPT),
        "QueryFacts no queries": (lambda c: c.query_facts(ckpt, []), INVALID, "no queries"),
        "QueryFacts subject range": (lambda c: c.query_facts(ckpt, [(0, 0), (8, 0)]), INVALID, "subject 8"),
        "QueryFacts negative relation": (lambda c: c.query_facts(ckpt, [(0, -1)]), INVALID, "relation -1"),
        "QueryFacts top_k": (lambda c: c.query_facts(ckpt, [(0, 0)], top_k=65), INVALID, "top_k"),
        "QueryFacts both": (lambda c: c.query_facts(ckpt, [(0, 0)], all_facts=True), INVALID, "not both"),
        "QueryFacts too many": (lambda c: c.query_facts(ckpt, [(0, 0)] * 70_000), EXHAUSTED, "limit"),
        "QueryFacts unknown ckpt": (lambda c: c.query_facts(MISSING_CKPT, [(0, 0)]), NOT_FOUND, MISSING_CKPT),
        "ExtractAttention token range": (
            lambda c: c.extract_attention(ckpt, tokens=np.array([[0, 1, 999]])),
            INVALID,
            "token ids",
        ),
        "ExtractAttention negative token": (
            lambda c: c.extract_attention(ckpt, tokens=np.array([[0, -1, 3]])),
            INVALID,
            "token ids",
        ),
        "ExtractAttention unknown hook": (
            lambda c: c.extract_attention(ckpt, hooks=["blocks.7.attn.hook_pattern"]),
            INVALID,
            "unknown hook",
        ),
        "ExtractAttention long sequence": (lambda c: c.extract_attention(ckpt, tokens=big), EXHAUSTED, "seq_len"),
        "ExtractAttention too many sequences": (
            lambda c: c.extract_attention(ckpt, num_sequences=10**6),
            EXHAUSTED,
            "num_sequences",
        ),
        "ExtractAttention no attention": (lambda c: c.extract_attention(am_ckpt), PRECONDITION, "no attention"),
        "MeasureSharpness top_k": (lambda c: c.measure_sharpness(ckpt, top_k=-2), INVALID, "top_k"),
        "MeasureSharpness iterations": (
            lambda c: c.measure_sharpness(ckpt, max_iterations=10**6),
            EXHAUSTED,
            "max_iterations",
        ),
        "MeasureSharpness tolerance": (
            lambda c: c.measure_sharpness(ckpt, tolerance=float("inf")),
            INVALID,
            "tolerance",
        ),
        "MeasureSharpness examples": (lambda c: c.measure_sharpness(ckpt, num_examples=-5), INVALID, "num_examples"),
        "MeasureSharpness method": (lambda c: c.measure_sharpness(ckpt, method="lobpcg"), INVALID, "unknown method"),
        "MeasureSharpness whole set of a stream": (
            lambda c: c.measure_sharpness(ckpt, whole_training_set=True),
            PRECONDITION,
            "no finite training set",
        ),
        "MeasureSharpness both data choices": (
            lambda c: c.measure_sharpness(ckpt, num_examples=8, whole_training_set=True),
            INVALID,
            "not both",
        ),
        "MeasureSharpness warm start size": (
            lambda c: c.measure_sharpness(ckpt, warm_start=np.ones(3)),
            INVALID,
            "warm_start",
        ),
        "MeasureSharpness trace samples": (
            lambda c: c.measure_sharpness(ckpt, trace_samples=10**6),
            EXHAUSTED,
            "trace_samples",
        ),
        "Evaluate too many": (lambda c: c.evaluate(ckpt, num_sequences=10**8), EXHAUSTED, "num_sequences"),
        "Evaluate unknown": (lambda c: c.evaluate(MISSING_CKPT), NOT_FOUND, MISSING_CKPT),
    }


class _Sink:
    def write(self, data: bytes) -> None:
        pass


@pytest.fixture(scope="module")
def setup(client, trained):
    memory = client.wait(client.submit_job("factual-recall", {**SMALL_FACTS, "model": "linear-am"}, steps=5).job_id)
    return trained.checkpoint_id, memory.checkpoint_id, trained.job_id


@pytest.mark.parametrize("name", list(cases("", "", "")))
def test_bad_input_gets_the_right_status_and_changes_nothing(name, client, server, setup):
    ckpt, am_ckpt, job_id = setup
    call, code, fragment = cases(ckpt, am_ckpt, job_id)[name]
    before = snapshot(client, server.data_dir)
    with pytest.raises(ProbeError) as error:
        call(client)
    assert error.value.code == code, str(error.value)
    assert fragment in error.value.message
    assert client.health() == "SERVING"
    assert snapshot(client, server.data_dir) == before


def test_malformed_tensor_bytes_are_invalid_argument(client, trained):
    stub_request = probes_pb2.ExtractAttentionRequest(
        checkpoint_id=trained.checkpoint_id, tokens=tensor_pb2.Tensor(dtype="int64", shape=[2, 3], data=b"\x00" * 7)
    )
    with pytest.raises(grpc.RpcError) as error:
        client._probes.ExtractAttention(stub_request)
    assert error.value.code() == INVALID and "cannot hold" in error.value.details()
    float_tokens = probes_pb2.ExtractAttentionRequest(
        checkpoint_id=trained.checkpoint_id, tokens=tensor_pb2.Tensor(dtype="float32", shape=[1, 2], data=b"\x00" * 8)
    )
    with pytest.raises(grpc.RpcError) as error:
        client._probes.ExtractAttention(float_tokens)
    assert error.value.code() == INVALID and "integer" in error.value.details()
    # 2**64 elements: a product in numpy's int64 wrapped to 0, which matched the empty data (INTERNAL then)
    huge = probes_pb2.ExtractAttentionRequest(
        checkpoint_id=trained.checkpoint_id, tokens=tensor_pb2.Tensor(dtype="int64", shape=[2**32, 2**32], data=b"")
    )
    with pytest.raises(grpc.RpcError) as error:
        client._probes.ExtractAttention(huge)
    assert error.value.code() == INVALID and "cannot hold" in error.value.details()


def test_token_file_requires_the_bearer_token(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    server = start_server(tmp_path / "data", "--token-file", str(token_file), metrics=False)
    try:
        with server.client(token="wrong") as client:
            with pytest.raises(ProbeError) as error:
                client.families()
            assert error.value.code == grpc.StatusCode.UNAUTHENTICATED
            assert client.health() == "SERVING"  # health stays open for load balancers
        with server.client(token="") as client:
            with pytest.raises(ProbeError) as error:
                client.server_info()
            assert error.value.code == grpc.StatusCode.UNAUTHENTICATED
        with server.client(token="s3cret") as client:
            assert client.families()
    finally:
        server.stop()
