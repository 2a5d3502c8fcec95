"""lm-finetune and MeZO through the server: pretrain, fine-tune from the checkpoint, Hugging Face models, memory."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from probe_client import ProbeClient
from probe_models.families.lm_finetune.language import VOCABULARY

BIN = Path(sys.executable).parent
TINY_GPT = {"n_layers": 1, "d_model": 32, "n_heads": 2, "test_examples": 200}


def test_the_registry_lists_mezo_and_lm_finetune(client: ProbeClient):
    (mezo,) = [o for o in client.optimizers() if o.name == "mezo"]
    keys = {f.name: f for f in mezo.config}
    assert {"lr", "eps", "schedule", "weight_decay", "n_spsa", "objective"} <= set(keys)
    assert keys["objective"].choices == ["loss", "accuracy"] and keys["eps"].default == 1e-3
    assert "lm-finetune" in {f.name for f in client.families()}


def test_a_mezo_job_trains_factual_recall_and_reports_its_memory(server, client: ProbeClient):
    config = {"model": "mlp-am", "num_subjects": 8, "num_relations": 4, "answers_per_relation": 4, "batch_size": 256}
    job = client.submit_job(
        "factual-recall", config, steps=1000, log_every=100, optimizer="mezo", optimizer_config={"lr": 0.03}
    )
    job = client.wait(job.job_id)
    assert job.state == "SUCCEEDED", job.error
    assert job.training.optimizer == "mezo"
    assert job.training.optimizer_config == {
        "lr": 0.03, "eps": 1e-3, "schedule": "constant", "weight_decay": 0.0, "n_spsa": 1, "objective": "loss",
    }  # fmt: skip
    progress = [e for e in client.watch_job(job.job_id) if e.kind == "PROGRESS"]
    assert progress[-1].loss < 0.6 * progress[0].loss
    assert job.metrics["fact_accuracy"] >= 0.5 and "projected_grad" in job.metrics
    assert job.peak_memory_bytes > job.metrics["excess_memory_bytes"] > 0
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'probe_job_finished_peak_memory_bytes_count{family="factual-recall"}' in text


@pytest.fixture(scope="module")
def pretrained(client: ProbeClient):
    job = client.submit_job("lm-finetune", {**TINY_GPT, "mode": "pretrain", "lr": 3e-3}, steps=150, seed=4)
    job = client.wait(job.job_id)
    assert job.state == "SUCCEEDED", job.error
    assert {"lm_loss", "prompt_accuracy"} <= set(job.metrics)
    return job


def test_fine_tuning_starts_from_the_pretrained_checkpoint(server, client: ProbeClient, pretrained):
    """The CLI submits a MeZO fine-tuning from the pretrain checkpoint; its first evaluation is the checkpoint's."""
    result = subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, "train", "lm-finetune",
         *[f"--set={k}={v}" for k, v in TINY_GPT.items()], "--set=k_shot=8", "--steps=20", "--seed=4",
         "--optimizer=mezo", "--opt=lr=1e-4", "--opt=n_spsa=2", f"--init={pretrained.checkpoint_id}",
         "--watch", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["training"]["init_checkpoint"] == pretrained.checkpoint_id
    assert job["training"]["optimizer_config"]["n_spsa"] == 2
    # lr 1e-4 for 20 steps barely moves the weights: the prompt accuracy is the pretrained model's
    assert job["metrics"]["prompt_accuracy"] == pytest.approx(pretrained.metrics["prompt_accuracy"], abs=0.03)
    assert set(job["metrics"]) >= {"train_accuracy", "batch_accuracy", "projected_grad"}


def test_a_checkpoint_of_another_architecture_fails_the_job_saying_why(client: ProbeClient, pretrained):
    job = client.submit_job(
        "lm-finetune", {**TINY_GPT, "d_model": 64}, steps=5, init_checkpoint=pretrained.checkpoint_id
    )
    job = client.wait(job.job_id)
    assert job.state == "FAILED"
    assert "does not fit this config's model" in job.error


@pytest.fixture(scope="module")
def hf_directory(tmp_path_factory) -> Path:
    """A tiny, randomly initialized GPT-2 with a word-level tokenizer over the synthetic language, made here."""
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    directory = tmp_path_factory.mktemp("tiny-gpt2")
    vocab = {word: i for i, word in enumerate(VOCABULARY)}
    model = tokenizers.models.WordLevel(vocab, unk_token="<pad>")
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<pad>")
    fast.save_pretrained(directory)
    config = transformers.GPT2Config(vocab_size=len(vocab), n_positions=32, n_embd=32, n_layer=1, n_head=2)
    transformers.GPT2LMHeadModel(config).save_pretrained(directory, safe_serialization=True)
    return directory


def test_a_local_hugging_face_lm_is_fine_tuned_by_mezo(client: ProbeClient, hf_directory):
    config = {"model": "hf", "hf_path": str(hf_directory), "k_shot": 8, "test_examples": 100}
    job = client.submit_job("lm-finetune", config, steps=10, optimizer="mezo", optimizer_config={"lr": 1e-3})
    job = client.wait(job.job_id)
    assert job.state == "SUCCEEDED", job.error
    evaluation = client.evaluate(job.checkpoint_id, num_sequences=64)
    assert 0.0 <= evaluation.accuracy <= 1.0 and evaluation.metrics["parameters"] > 0


def test_hugging_face_directories_that_are_not_causal_lms_are_refused(client: ProbeClient, tmp_path, hf_directory):
    transformers = pytest.importorskip("transformers")
    encoder = tmp_path / "distilbert"  # an encoder-only model: no causal-LM head exists for it
    transformers.DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64).save_pretrained(encoder)
    empty = tmp_path / "empty"
    empty.mkdir()
    for path, message in ((encoder, "not a causal LM"), (empty, "no config.json")):  # read by the job's worker
        failed = client.wait(client.submit_job("lm-finetune", {"model": "hf", "hf_path": str(path)}).job_id)
        assert failed.state == "FAILED" and message in failed.error, failed.error


def test_a_cancelled_mezo_job_resumes_to_the_weights_of_an_uninterrupted_one(server, client: ProbeClient):
    config = {"model": "mlp-am", "num_subjects": 8, "num_relations": 4, "answers_per_relation": 4, "batch_size": 64}
    options = {"optimizer": "mezo", "optimizer_config": {"lr": 0.03, "schedule": "linear", "weight_decay": 0.01}}
    job = client.submit_job("factual-recall", config, steps=300, seed=5, checkpoint_every=50, log_every=10, **options)
    for event in client.watch_job(job.job_id):
        if event.kind == "CHECKPOINT" and event.step >= 100:
            break
    assert client.cancel_job(job.job_id).state == "CANCELLED"
    client.resume_job(job.job_id)
    resumed = client.wait(job.job_id)
    whole = client.wait(client.submit_job("factual-recall", config, steps=300, seed=5, **options).job_id)
    assert resumed.state == whole.state == "SUCCEEDED" and resumed.runs == 2
    root = server.data_dir / "checkpoints"
    resumed_weights = load_file(str(root / resumed.checkpoint_id / "weights.safetensors"))
    for name, tensor in load_file(str(root / whole.checkpoint_id / "weights.safetensors")).items():
        assert torch.equal(resumed_weights[name], tensor), name
