"""depth-ushape through the server: jobs on digits and on CIFAR-10 / ImageNet32 files, Evaluate, bad input."""

import math

import grpc
import pytest

from probe_client import ProbeClient, ProbeError
from tests.e2e.test_cli import cli_json
from tests.unit.test_image_batches import cifar_batch, imagenet32_batch, write_npz, write_pickle

PAIR = {"classes": "3,8", "train_per_class": 5, "width": 8, "image_size": 8, "depth": 2}


def test_a_job_trains_to_full_training_accuracy_then_stops_and_evaluates(client: ProbeClient, server):
    job = client.wait(client.submit_job("depth-ushape", {**PAIR, "after_fit": 10}, steps=1000, seed=1).job_id)
    assert job.state == "SUCCEEDED", job.error
    assert job.metrics["train_accuracy"] == 1.0 and job.step == job.metrics["fit_step"] + 10 < 1000
    assert 0.5 < job.metrics["test_accuracy"] <= 1.0
    evaluation = client.evaluate(job.checkpoint_id)
    assert evaluation.accuracy == pytest.approx(job.metrics["test_accuracy"])
    printed = cli_json(server, "eval", job.checkpoint_id)
    assert printed["accuracy"] == pytest.approx(evaluation.accuracy)
    assert printed["metrics"]["train_accuracy"] == 1.0


def test_linear_conv_jobs_report_the_norm_of_their_operator(client: ProbeClient):
    job = client.wait(client.submit_job("depth-ushape", {**PAIR, "model": "linear-conv"}, steps=300).job_id)
    assert job.state == "SUCCEEDED", job.error
    assert job.metrics["operator_frobenius_norm"] >= job.metrics["operator_norm"] > 0


def test_cifar10_and_imagenet32_files_on_the_server_train(client: ProbeClient, tmp_path):
    cifar, imagenet = tmp_path / "cifar", tmp_path / "imagenet32"
    cifar.mkdir()
    imagenet.mkdir()
    write_pickle(cifar / "data_batch_1", cifar_batch(80, 1))
    write_pickle(cifar / "test_batch", cifar_batch(40, 2))
    batch = imagenet32_batch(60, 3)
    batch["labels"] = [1 + i % 3 for i in range(60)]  # classes 0, 1, 2 after the shift to 0-based labels
    write_npz(imagenet / "train_data_batch_1.npz", batch)
    for data, path, classes in (("cifar10", cifar, "0,1"), ("imagenet32", imagenet, "0,1,2")):
        config = {"data": data, "data_path": str(path), "classes": classes, "train_per_class": 3, "width": 4,
                  "depth": 2, "image_size": 8}  # fmt: skip
        job = client.wait(client.submit_job("depth-ushape", config, steps=20).job_id)
        assert job.state == "SUCCEEDED", (data, job.error)
        assert math.isfinite(job.metrics["test_loss"])


@pytest.mark.parametrize(
    "config, message",
    [
        ({"depth": 0}, "depth"),
        ({"width": 0}, "width"),
        ({"num_classes": 11}, "has 10 classes"),
        ({"classes": "1,10"}, "has 10 classes"),
        ({"train_per_class": 500}, "train_per_class"),
    ],
)
def test_bad_sizes_and_classes_are_invalid_arguments(client: ProbeClient, config, message):
    with pytest.raises(ProbeError) as error:
        client.submit_job("depth-ushape", config)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, error.value
    assert message in error.value.message


def test_missing_or_malformed_data_is_a_failed_precondition_naming_path_and_format(client: ProbeClient, tmp_path):
    (tmp_path / "garbage").write_bytes(b"\x80\x04not really a pickle")
    cases = [
        ("cifar10", tmp_path / "nowhere", "does not exist", "CIFAR-10 python batches (data_batch_*"),
        ("imagenet32", tmp_path / "garbage", "not readable as a batch", "ImageNet32 batches (train_data_batch_*"),
    ]
    for data, path, problem, expected in cases:
        if path.exists():  # a file is read by the job's worker: the job fails, naming path and format
            failed = client.wait(client.submit_job("depth-ushape", {"data": data, "data_path": str(path)}).job_id)
            assert failed.state == "FAILED", failed
            message = failed.error
        else:  # existence is checked (stat only) at submit
            with pytest.raises(ProbeError) as error:
                client.submit_job("depth-ushape", {"data": data, "data_path": str(path)})
            assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION, error.value
            message, expected = error.value.message, "data roots"
        assert str(path) in message and problem in message and expected in message
    assert client.health() == "SERVING"


def test_a_full_batch_too_large_for_the_server_is_resource_exhausted(client: ProbeClient):
    config = {"train_per_class": 170, "width": 256, "depth": 100, "image_size": 64}
    with pytest.raises(ProbeError) as error:
        client.submit_job("depth-ushape", config)
    assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED, error.value
    assert "floats of data and activations" in error.value.message
