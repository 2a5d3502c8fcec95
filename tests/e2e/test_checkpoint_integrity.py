"""Damaged checkpoint files are DATA_LOSS naming the checkpoint and the file, on every probe and on export."""

import io
import json
import subprocess

import pytest

from probe_client import DataLoss
from tests.conftest import BIN, SMALL_FACTS, start_server


def _flip(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the tensor data, past the safetensors header
    path.write_bytes(bytes(data))


def _truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {"flipped": _flip, "truncated": _truncate, "missing": lambda path: path.unlink()}


def _probes(client, checkpoint_id):
    """Every probe factual-recall serves, and export."""
    return {
        "query_facts": lambda: client.query_facts(checkpoint_id, [(0, 0)]),
        "evaluate": lambda: client.evaluate(checkpoint_id),
        "extract_attention": lambda: client.extract_attention(checkpoint_id, num_sequences=2),
        "measure_sharpness": lambda: client.measure_sharpness(checkpoint_id, num_examples=8, max_iterations=2),
        "export": lambda: client.export_onnx(checkpoint_id, io.BytesIO()),
    }


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A server with one checkpoint per kind of damage, and the ids of each."""
    data_dir = tmp_path_factory.mktemp("integrity") / "data"
    server = start_server(data_dir)
    with server.client() as client:
        job = client.wait(
            client.submit_job("factual-recall", SMALL_FACTS, steps=70, seed=5, checkpoint_every=10).job_id
        )
        checkpoints, _ = client.list_checkpoints(job_id=job.job_id)
    ids = sorted((c.step, c.checkpoint_id) for c in checkpoints)
    cases: dict[tuple[str, str], str] = {}
    root = data_dir / "checkpoints"
    for (how, damage), (_, checkpoint_id) in zip(DAMAGE.items(), ids, strict=False):
        damage(root / checkpoint_id / "weights.safetensors")
        cases[("weights.safetensors", how)] = checkpoint_id
    with server.client() as client:  # the ONNX graph once exported, then damaged before any session loads it
        for how, (_, checkpoint_id) in zip(("flipped", "truncated"), ids[3:5], strict=True):
            client.export_onnx(checkpoint_id, io.BytesIO())
            DAMAGE[how](root / checkpoint_id / "model.onnx")
            cases[("model.onnx", how)] = checkpoint_id
    meta = json.loads((root / ids[5][1] / "meta.json").read_text())
    assert set(meta["sha256"]) == {"weights.safetensors", "optimizer.safetensors"}
    yield server, cases
    server.stop()


@pytest.mark.parametrize(
    "file,how",
    [("weights.safetensors", h) for h in DAMAGE] + [("model.onnx", "flipped"), ("model.onnx", "truncated")],
)
def test_every_probe_of_a_damaged_checkpoint_is_data_loss_naming_the_file(damaged, file, how):
    server, cases = damaged
    checkpoint_id = cases[(file, how)]
    with server.client() as client:
        probes = _probes(client, checkpoint_id)
        if file == "model.onnx":  # the torch model loads from intact weights: the ONNX graph serves these two
            probes = {name: probes[name] for name in ("query_facts", "export")}
        for name, probe in probes.items():
            for _ in range(2):  # and again: nothing damaged was cached
                with pytest.raises(DataLoss) as error:
                    probe()
                assert checkpoint_id in error.value.message and file in error.value.message, (name, error.value)
        assert client.health()  # the server serves on


def test_fsck_reports_each_damaged_file_and_removes_leftovers(damaged, tmp_path):
    server, cases = damaged
    running = subprocess.run(
        [str(BIN / "probe-server"), "fsck", "--data-dir", str(server.data_dir)], capture_output=True, text=True
    )
    assert running.returncode == 2 and f"pid {server.process.pid}" in running.stdout  # never beside a server
    server.stop()
    leftover = server.data_dir / "checkpoints" / ".tmp-checkpoint-0123456789abcdef"
    leftover.mkdir()
    (leftover / "weights.safetensors").write_bytes(b"half")
    report = subprocess.run(
        [str(BIN / "probe-server"), "fsck", "--data-dir", str(server.data_dir)], capture_output=True, text=True
    )
    assert report.returncode == 1, report.stdout
    problems = [line for line in report.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == len(cases), report.stdout
    for (file, _), checkpoint_id in cases.items():
        assert any(checkpoint_id in line and file in line for line in problems), (checkpoint_id, report.stdout)
    assert not leftover.exists() and f"removed  {leftover}" in report.stdout
    assert "7 checkpoint(s) checked" in report.stdout
