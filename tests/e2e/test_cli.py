"""probe-cli as a user runs it: one JSON document with --json, one clear line and exit 1 on errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

BIN = Path(sys.executable).parent


def cli(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, *args], capture_output=True, text=True, timeout=300
    )


def cli_json(server, *args: str):
    result = cli(server, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_train_watch_show_query_eval_attention_sharpness(server, tmp_path):
    submitted = cli_json(
        server,
        "train",
        "factual-recall",
        "--set",
        "num_subjects=4",
        "--set",
        "num_relations=4",
        "--steps",
        "200",
        "--watch",
    )
    assert submitted["state"] == "SUCCEEDED"
    job_id = submitted["job_id"]
    shown = cli_json(server, "jobs", "show", job_id)
    assert shown["state"] == "SUCCEEDED" and shown["checkpoint_id"].startswith("ckpt-")
    assert shown["config"]["num_subjects"] == 4
    ckpt = shown["checkpoint_id"]
    result = cli_json(server, "query", ckpt, "1", "2", "--top-k", "2")
    assert result["subjects"] == [1] and result["relations"] == [2] and len(result["answers"][0]) == 2
    assert result["answers"][0][0] == result["stored_answers"][0] and result["recalled"] == [True]
    assert cli_json(server, "query", ckpt, "--all")["accuracy"] == 1.0
    assert cli_json(server, "eval", ckpt)["accuracy"] == 1.0
    png = tmp_path / "attention.png"
    attention = cli_json(server, "attention", ckpt, "--png", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(attention["patterns"]["blocks.0.attn.hook_pattern"][0]) == 4  # heads
    eigenvalues = cli_json(server, "sharpness", ckpt, "--top-k", "2", "--num-examples", "128")["eigenvalues"]
    traced = cli_json(server, "sharpness", ckpt, "--method", "power", "--trace", "--trace-samples", "10",
                      "--num-examples", "128", "--max-iterations", "300")  # fmt: skip
    assert traced["method"] == "power" and traced["trace_samples"] == 10 and traced["trace"] is not None
    assert abs(traced["eigenvalues"][0] - eigenvalues[0]) <= 1e-3 * abs(eigenvalues[0])
    human = cli(server, "sharpness", ckpt, "--trace", "--trace-samples", "5", "--num-examples", "64").stdout
    assert "trace ≈" in human and "Hutchinson" in human
    assert len(eigenvalues) == 2 and eigenvalues[0] >= eigenvalues[1]
    events = cli_json(server, "jobs", "watch", job_id)["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert any(j["job_id"] == job_id for j in cli_json(server, "jobs", "list"))
    assert any(c["checkpoint_id"] == ckpt for c in cli_json(server, "ckpt", "list", "--job", job_id))
    assert cli_json(server, "ckpt", "show", ckpt)["step"] == 200
    onnx = tmp_path / "m.onnx"
    assert cli_json(server, "ckpt", "export", ckpt, "-o", str(onnx))["size_bytes"] == onnx.stat().st_size
    assert cli_json(server, "ckpt", "rm", ckpt) == {"deleted": ckpt}


def test_families_health_and_version(server):
    families = {f["name"]: f for f in cli_json(server, "families")}
    assert {"factual-recall", "causal-icl"} <= set(families)
    graph = next(f for f in families["causal-icl"]["config"] if f["name"] == "graph")
    assert graph["default"] == "chain" and "random-dag" in graph["choices"]
    assert families["eos"]["probes"] == ["Evaluate", "MeasureSharpness", "MeasureStabilization"]
    assert cli_json(server, "health")["status"] == "SERVING"
    assert cli_json(server, "version")["server"]["api_version"] == "probe.v1"


def test_tables_on_an_80_column_terminal_show_ids_whole(server, trained):
    """The ids a table shows are what a user pastes into the next command: never shortened with an ellipsis."""
    for command, listed in (("ckpt", trained.checkpoint_id), ("jobs", trained.job_id)):
        result = subprocess.run(
            [str(BIN / "probe-cli"), "--server", server.address, command, "list"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert listed in result.stdout, result.stdout
        assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_human_output_is_not_json_but_says_what_happened(server):
    result = cli(server, "families")
    assert result.returncode == 0 and "num_subjects" in result.stdout
    assert "probes: Evaluate, QueryFacts, ExtractAttention, MeasureSharpness" in " ".join(result.stdout.split())


def test_errors_are_one_line_and_exit_non_zero(server):
    cases = [
        (("train", "factual-recall", "--set", "num_subjects=zero"), "'num_subjects': must be an integer, got 'zero'"),
        (("train", "factual-recall", "--set", "num_subjects=2.5"), "'num_subjects': must be an integer, got 2.5"),
        (("train", "factual-recall", "--set", "bogus=1"), "config key 'bogus': unknown config key"),
        (("train", "factual-recall", "--set", "d_model=8", "--set", "d_model=16"), "--set sets 'd_model' twice"),
        (("train", "factual-recall", "--opt", "eps=1e-3"), "name the optimizer too"),
        (("train", "factual-recall", "--set", "num_subjects=0"), "INVALID_ARGUMENT"),
        (("jobs", "show", "job-0000000000000000"), "NOT_FOUND"),
        (("query", "ckpt-0000000000000000", "1"), "give both SUBJECT and RELATION"),
        (("jobs", "list", "--state", "DONE"), "unknown job state"),
    ]
    for args, message in cases:
        result = cli(server, *args)
        assert result.returncode == 1, args
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, result.stderr)


def test_unreachable_server_is_one_clear_line():
    result = subprocess.run(
        [str(BIN / "probe-cli"), "--server", "127.0.0.1:1", "health"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "cannot reach a probe server at 127.0.0.1:1" in result.stderr


def test_set_values_go_as_strings_and_the_server_types_them_by_the_schema(server):
    job = cli_json(server, "train", "eos", "--set", "lr=5e-2", "--set", "num_examples=64", "--set", "width=8",
                   "--steps", "1", "--optimizer", "mezo", "--opt", "eps=1e-3")  # fmt: skip
    assert job["config"]["lr"] == 0.05 and job["config"]["num_examples"] == 64 and job["config"]["width"] == 8
    assert job["training"]["optimizer_config"]["eps"] == 0.001


def test_sweep_commands(server):
    sweep = cli_json(server, "sweep", "submit", "factual-recall", "--set", "num_relations=2", "--grid", "d_model=8,16",
                     "--seeds", "2", "--steps", "5", "--name", "cli", "--watch")  # fmt: skip
    assert sweep["state"] == "SUCCEEDED" and len(sweep["children"]) == 4
    assert {c["overrides"]["d_model"] for c in sweep["children"]} == {8, 16}
    assert cli_json(server, "sweep", "show", sweep["sweep_id"])["counts"] == {"SUCCEEDED": 4}
    assert any(s["sweep_id"] == sweep["sweep_id"] for s in cli_json(server, "sweep", "list"))
    searched = cli_json(server, "sweep", "submit", "factual-recall", "--set", "model=linear-am", "--set",
                        "num_relations=1", "--set", "d_model=4", "--search", "num_subjects=1:8", "--metric",
                        "fact_accuracy", "--steps", "100", "--watch")  # fmt: skip
    assert searched["search_results"][0]["done"] and searched["search"]["key"] == "num_subjects"
    bad = cli(server, "sweep", "submit", "factual-recall", "--grid", "d_model=")
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr


@pytest.mark.parametrize(
    "args, option",
    [
        (["sharpness", "ckpt-0", "--top-k", "0"], "--top-k"),  # 0 meant "the default" on the wire: top-1
        (["sharpness", "ckpt-0", "--num-examples", "-5"], "--num-examples"),
        (["train", "eos", "--steps", "-1"], "--steps"),
        (["jobs", "list", "--limit", "0"], "--limit"),
        (["query", "ckpt-0", "1", "2", "--top-k", "0"], "--top-k"),
        (["jobs", "watch", "job-0", "--retry-for", "-1"], "--retry-for"),
    ],
)
def test_out_of_range_numbers_are_refused_before_any_call(args, option):
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens: a call would fail with "cannot reach"
    result = subprocess.run([str(BIN / "probe-cli"), "--server", nobody, *args], capture_output=True, text=True)
    assert result.returncode == 2 and f"Invalid value for '{option}'" in result.stderr, result.stderr
    assert "cannot reach" not in result.stderr
