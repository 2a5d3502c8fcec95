"""Train → watch → query, eval, attention, sharpness → export ONNX → delete, through a real server."""

import io

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

from probe_client import NotFound
from probe_models.config import parse_config
from probe_models.registry import get_family
from tests.conftest import SMALL_FACTS


def test_watch_streams_every_event_in_order(client):
    job = client.submit_job("factual-recall", SMALL_FACTS, steps=60, seed=2, log_every=10, checkpoint_every=30)
    events = list(client.watch_job(job.job_id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    kinds = [(e.kind, e.state) for e in events]
    assert kinds[0] == ("STATE", "QUEUED") and kinds[1] == ("STATE", "RUNNING") and kinds[-1] == ("STATE", "SUCCEEDED")
    progress = [e.step for e in events if e.kind == "PROGRESS"]
    assert progress == [10, 20, 30, 40, 50, 60]
    assert [e.step for e in events if e.kind == "CHECKPOINT"] == [30, 60]
    assert all(np.isfinite(e.loss) and "fact_accuracy" in e.metrics for e in events if e.kind == "PROGRESS")
    # a reconnecting watcher picks up exactly where it left off, by seq or by step
    assert [e.seq for e in client.watch_job(job.job_id, after_seq=events[3].seq)] == [e.seq for e in events[4:]]
    from_40 = list(client.watch_job(job.job_id, from_step=40))
    assert (
        from_40
        and all(e.step >= 40 for e in from_40)
        and from_40[0].seq == events[[e.step for e in events].index(40)].seq
    )
    final = client.get_job(job.job_id)
    assert final.state == "SUCCEEDED" and final.step == 60 and final.runs == 1
    assert final.peak_memory_bytes > 0
    assert final.checkpoint_id == events[-2].checkpoint_id


def test_query_eval_attention_and_sharpness_on_a_trained_checkpoint(client, trained):
    ckpt = trained.checkpoint_id
    everything = client.query_facts(ckpt, all_facts=True)
    assert everything.answers.shape == (64, 1) and everything.accuracy == 1.0 and everything.recalled.all()
    assert list(everything.subjects[:9]) == [0] * 8 + [1] and list(everything.relations[:9]) == [*range(8), 0]
    assert everything.backend.startswith("onnxruntime/")
    one = client.query_facts(ckpt, [(3, 5)], top_k=4)
    assert one.recalled[0] and one.answers[0, 0] == one.stored_answers[0] and one.answers.shape == (1, 4)
    assert (np.diff(one.probabilities[0]) <= 0).all() and one.probabilities[0, 0] > 0.9

    evaluation = client.evaluate(ckpt, num_sequences=2048)
    assert evaluation.accuracy == 1.0 and evaluation.test_loss < 0.05
    assert evaluation.metrics["num_facts"] == 64

    attention = client.extract_attention(ckpt, num_sequences=5, seed=4)
    pattern = attention.patterns["blocks.0.attn.hook_pattern"]
    assert pattern.shape == (5, 4, 1, 32) and attention.query_positions == [31]
    assert np.allclose(pattern.sum(-1), 1.0, atol=1e-5)
    # the EOS query attends to the subject and relation tokens: most of the mass of some head lands there
    S, R = 8, 8
    informative = (attention.tokens < S + R)[:, None, None, :]
    mass = (pattern * informative).sum(-1).max(axis=1)  # best head per sequence
    assert (mass > 0.5).all()

    given = client.extract_attention(ckpt, tokens=attention.tokens[:2], hooks=["blocks.0.attn.hook_attn_scores"])
    assert list(given.patterns) == ["blocks.0.attn.hook_attn_scores"]
    averaged = client.extract_attention(ckpt, tokens=attention.tokens, average_over_batch=True)
    assert np.allclose(averaged.patterns["blocks.0.attn.hook_pattern"][0], pattern.mean(0), atol=1e-6)

    sharpness = client.measure_sharpness(ckpt, top_k=3, num_examples=256)
    assert len(sharpness.eigenvalues) == 3 and sharpness.eigenvalues == sorted(sharpness.eigenvalues, reverse=True)
    assert all(r <= 1e-3 * max(1.0, abs(v)) for r, v in zip(sharpness.residuals, sharpness.eigenvalues, strict=True))
    assert sharpness.hvp_count >= sharpness.iterations and sharpness.method == "lanczos"


def test_onnx_runtime_answers_equal_torch(client, trained, server):
    ckpt = trained.checkpoint_id
    record = client.get_checkpoint(ckpt)
    family = get_family(record.family)
    config = parse_config(family.config_cls, record.config)
    model = family.load(
        config, record.seed, load_file(str(server.data_dir / "checkpoints" / ckpt / "weights.safetensors"))
    )
    pairs = [(s, r) for s in range(8) for r in range(8)]
    served = client.query_facts(ckpt, pairs, top_k=5, noise_seed=11)
    subjects = np.array([p[0] for p in pairs])
    relations = np.array([p[1] for p in pairs])
    inputs = family.fact_inputs(config, record.seed, subjects, relations, noise_seed=11)
    with torch.no_grad():
        probs = torch.softmax(model.module(torch.from_numpy(inputs)).double(), dim=-1).numpy()
    assert np.array_equal(served.answers, np.argsort(-probs, axis=1, kind="stable")[:, :5])
    assert np.allclose(served.probabilities, np.take_along_axis(probs, served.answers, axis=1), atol=1e-5, rtol=0)


def test_export_onnx_then_delete(client, server):
    job = client.wait(client.submit_job("factual-recall", SMALL_FACTS, steps=20, seed=5).job_id)
    ckpt = job.checkpoint_id
    buffer = io.BytesIO()
    size = client.export_onnx(ckpt, buffer)
    assert size == len(buffer.getvalue()) > 1000
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    tokens = client.extract_attention(ckpt, num_sequences=3).tokens
    logits, probabilities = session.run(["logits", "probabilities"], {"inputs": tokens})
    assert logits.shape == probabilities.shape == (3, 64)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

    client.delete_checkpoint(ckpt)
    assert not (server.data_dir / "checkpoints" / ckpt).exists()
    with pytest.raises(NotFound):
        client.get_checkpoint(ckpt)
    with pytest.raises(NotFound):
        client.query_facts(ckpt, [(0, 0)])
    assert client.get_job(job.job_id).checkpoint_id == ""


def test_list_jobs_pages_and_filters(client):
    ids = [client.submit_job("factual-recall", SMALL_FACTS, steps=2, seed=s).job_id for s in range(3)]
    for job_id in ids:
        client.wait(job_id)
    seen, token = [], ""
    while True:
        page, token = client.list_jobs(page_size=2, page_token=token, family="factual-recall")
        assert len(page) <= 2
        seen += [j.job_id for j in page]
        if not token:
            break
    assert len(seen) == len(set(seen)) and set(ids) <= set(seen)
    assert seen.index(ids[2]) < seen.index(ids[0]), "newest first"
    succeeded, _ = client.list_jobs(states=["SUCCEEDED"], page_size=1000)
    assert set(ids) <= {j.job_id for j in succeeded}
    assert all(j.state == "SUCCEEDED" for j in succeeded)
    checkpoints, _ = client.list_checkpoints(job_id=ids[1])
    assert [c.job_id for c in checkpoints] == [ids[1]] and checkpoints[0].step == 2


def test_registry_and_server_info(client):
    families = {f.name: f for f in client.families()}
    fields = {f.name: f for f in families["factual-recall"].config}
    assert fields["num_subjects"].type == "int" and fields["num_subjects"].default == 16
    assert fields["model"].choices == ["transformer", "linear-am", "mlp-am", "linear-attention"]
    info = client.check_version()
    assert info.api_version == "probe.v1" and info.package_version and info.limits["max_message_bytes"] > 0
