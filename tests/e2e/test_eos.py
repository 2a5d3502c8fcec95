"""eos through the real server: the sharpness trace streams, lands in /metrics, plots; whole-set sharpness."""

import re
import urllib.request

import grpc
import matplotlib.image
import pytest

from probe_client import ProbeError
from tests.conftest import in_process
from tests.e2e.test_cli import cli, cli_json
from tests.science.test_eos import write_cifar_batch

SMALL = {"num_examples": 300, "width": 64, "lr": 0.5, "sharpness_every": 10}


def scrape(server) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10) as response:
        return response.read().decode()


def gauge(text: str, job_id: str) -> float | None:
    match = re.search(rf'probe_job_sharpness{{[^}}]*job_id="{job_id}"[^}}]*}} (\S+)', text)
    return float(match.group(1)) if match else None


@pytest.fixture(scope="module")
def eos_job(client):
    job = client.submit_job("eos", SMALL, steps=60, log_every=25)
    events = list(client.watch_job(job.job_id))
    return client.get_job(job.job_id), events


def test_sharpness_is_traced_every_k_steps_streamed_and_kept(client, eos_job):
    job, events = eos_job
    assert job.state == "SUCCEEDED", job.error
    traced = [e for e in events if e.kind == "PROGRESS" and "sharpness" in e.metrics]
    assert [e.step for e in traced] == [10, 20, 30, 40, 50, 60], "every k steps, and only then"
    assert all(e.metrics["threshold"] == 4.0 and e.metrics["sharpness"] > 0 for e in traced)
    replay = [e for e in client.watch_job(job.job_id, from_step=30) if "sharpness" in e.metrics]
    assert [e.step for e in replay] == [30, 40, 50, 60], "kept with the job's history"


def test_a_running_jobs_sharpness_is_a_prometheus_gauge(server, client):
    job = client.submit_job("eos", SMALL, steps=100_000, log_every=1000)
    seen, exported = [], None
    for event in client.watch_job(job.job_id):
        if "sharpness" in event.metrics:
            seen.append(event.metrics["sharpness"])
            exported = gauge(scrape(server), job.job_id)
            if exported is not None or len(seen) == 20:
                break
    client.cancel_job(job.job_id)
    seen += [e.metrics["sharpness"] for e in client.watch_job(job.job_id, from_step=0) if "sharpness" in e.metrics]
    assert exported in seen, (exported, seen[:5])
    assert client.wait(job.job_id).state == "CANCELLED"
    # the last value stays for two scrapes after the end (so a job ending between scrapes is seen), then goes
    assert [gauge(scrape(server), job.job_id) in seen for _ in range(2)] == [True, True]
    assert gauge(scrape(server), job.job_id) is None, "the label goes two scrapes after the job ends"


def test_whole_training_set_sharpness_at_the_checkpoint_matches_the_last_traced_value(client, eos_job):
    job, events = eos_job
    last = [e for e in events if "sharpness" in e.metrics][-1]
    whole = client.measure_sharpness(job.checkpoint_id, whole_training_set=True, chunk_size=128, tolerance=1e-9)
    assert whole.num_examples == 300 and whole.chunks == 3
    assert whole.data == "300 examples of scikit-learn digits"
    assert whole.eigenvalues[0] == pytest.approx(last.metrics["sharpness"], rel=1e-4)
    subset = client.measure_sharpness(job.checkpoint_id, num_examples=100, seed=1)
    assert subset.num_examples == 100 and "drawn with seed 1" in subset.data


def test_cli_sharpness_trace_plots_the_trace(server, eos_job, tmp_path):
    job, _ = eos_job
    png = tmp_path / "trace.png"
    document = cli_json(server, "sharpness-trace", job.job_id, "--png", str(png))
    assert document["steps"] == [10, 20, 30, 40, 50, 60] and document["threshold"] == 4.0
    image = matplotlib.image.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 500 and image[..., :3].std() > 0.05
    assert "sharpness of job" in cli(server, "sharpness-trace", job.job_id).stdout


def test_bad_eos_configs_get_invalid_argument_or_failed_precondition(client, tmp_path):
    (tmp_path / "not-cifar").write_text("hello")
    write_cifar_batch(tmp_path / "data_batch_1", 4)
    cases = [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1}, "lr"),
        ({"lr": float("inf")}, "lr"),
        ({"sharpness_examples": 2000, "num_examples": 100}, "sharpness_examples"),
        ({"num_examples": 5000}, "1797"),
    ]
    for config, fragment in cases:
        with pytest.raises(ProbeError) as error:
            client.submit_job("eos", config)
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, (config, error.value)
        assert fragment in error.value.message, (config, error.value.message)
    with pytest.raises(ProbeError) as error:
        client.submit_job("eos", {"data": "cifar10", "data_path": str(tmp_path / "nowhere")})
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION, error.value
    assert "does not exist" in error.value.message and str(tmp_path / "nowhere") in error.value.message
    # what needs the files read is checked by the job's worker: the job fails, saying why
    for config, fragment in (
        ({"data_path": str(tmp_path), "num_examples": 10}, "holds 4 images"),
        ({"data_path": str(tmp_path / "not-cifar")}, "not readable as a batch"),
    ):
        failed = client.wait(client.submit_job("eos", {"data": "cifar10", **config}, steps=3).job_id)
        assert failed.state == "FAILED" and fragment in failed.error, failed.error
    job = client.wait(client.submit_job("eos", {"data": "cifar10", "data_path": str(tmp_path), "num_examples": 4,
                                                "width": 8}, steps=3).job_id)  # fmt: skip
    assert job.state == "SUCCEEDED", job.error


def test_self_stabilization_over_grpc_equals_in_process(server, client, eos_job):
    job, _ = eos_job
    served = client.measure_stabilization(job.checkpoint_id, steps=4, projected=True)
    family, model = in_process(server, client, job.checkpoint_id)
    local = family.self_stabilization(model, 4, projected=True)
    assert served.steps == [1, 2, 3, 4] and served.threshold == pytest.approx(2 / SMALL["lr"])
    assert served.sharpness == pytest.approx(local.sharpness, rel=1e-9)
    assert served.alpha == pytest.approx(local.alpha, rel=1e-6) and served.beta == pytest.approx(local.beta, rel=1e-6)
    assert served.y_measured == pytest.approx(local.y_measured, rel=1e-6, abs=1e-12)
    assert len(served.projected_distance) == 4 and served.hvp_count > 0


def test_self_stabilization_on_other_families_and_bad_steps(client, eos_job, trained):
    with pytest.raises(ProbeError) as error:
        client.measure_stabilization(trained.checkpoint_id)
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "family factual-recall does not answer MeasureStabilization" in error.value.message
    for steps, code in ((-1, grpc.StatusCode.INVALID_ARGUMENT), (10**6, grpc.StatusCode.RESOURCE_EXHAUSTED)):
        with pytest.raises(ProbeError) as error:
            client.measure_stabilization(eos_job[0].checkpoint_id, steps=steps)
        assert error.value.code == code and "steps" in error.value.message


def test_cli_stabilization_prints_the_served_numbers(server, client, eos_job):
    job, _ = eos_job
    document = cli_json(server, "stabilization", job.checkpoint_id, "--steps", "3")
    served = client.measure_stabilization(job.checkpoint_id, steps=3)
    assert document["steps"] == [1, 2, 3] and document["alpha"] == pytest.approx(served.alpha, rel=1e-9)
    text = cli(server, "stabilization", job.checkpoint_id, "--steps", "3").stdout
    assert "self-stabilization" in text and "x predicted" in text
    projected = cli(server, "stabilization", job.checkpoint_id, "--steps", "2", "--projected").stdout
    columns = [t.splitlines()[-1].count("┴") + 1 for t in (text, projected)]  # the table's bottom rule
    assert columns == [7, 9], columns  # --projected adds the distance to projected GD and its sharpness
