"""The qualitative claims of Nichani, Damian, Lee (2024) at CPU scale (docs/families/causal-icl.md)."""

import numpy as np
import pytest
import torch
from scipy import stats

from probe_models.config import parse_config
from probe_models.errors import ConfigError
from probe_models.families.causal_icl import CausalICL, CausalICLConfig
from probe_models.families.causal_icl.family import measure
from probe_models.families.causal_icl.networks import DisentangledTransformer, build_network, parameter_count
from probe_models.families.causal_icl.task import CausalTask, numpy_rng, stationary
from tests.science.resume import restored_and_whole

CHAIN_STEPS = 600


def task(overrides: dict, seed: int = 0) -> CausalTask:
    return CausalTask(parse_config(CausalICLConfig, overrides), seed)


@pytest.fixture(scope="module")
def chain_run():
    """A disentangled transformer trained on the in-context Markov chain (S=10, T=20) with the CPU default."""
    config = parse_config(CausalICLConfig, {})
    run = CausalICL().new_run(config, seed=0, steps=CHAIN_STEPS)
    for step in range(CHAIN_STEPS):
        run.train_step(step)
    run.model.eval()
    return run


def test_graphs_follow_the_paper():
    assert task({"graph": "chain"}).graph.parents[:4] == ((), (0,), (1,), (2,))
    chain = task({"graph": "chain"}).graph
    assert chain.parents[19] == () and chain.uniform == {19} and chain.target == (19,)
    pairs = task({"graph": "icl-pairs"}).graph.parents
    assert pairs[:5] == ((), (0,), (), (2,), ())
    two = task({"graph": "two-parent", "vocab_size": 5, "seq_len": 32}).graph
    assert two.order == 2 and two.parents[5] == ((5 - 1) // 2, 4) and two.target == (15, 31)
    assert two.parents[:4] == ((), (), (0, 1), (1, 2)), "the paper's DAG: nodes 0 and 1 are roots"
    dag = task({"graph": "random-dag", "vocab_size": 3}, seed=3).graph
    assert dag == task({"graph": "random-dag", "vocab_size": 3}, seed=3).graph, "seeded"
    assert dag != task({"graph": "random-dag", "vocab_size": 3}, seed=4).graph
    assert all(len(p) <= 1 and all(q < i for q in p) for i, p in enumerate(dag.parents))
    fixed = {"graph": "random-tree", "graph_seed": 7}
    assert task(fixed, seed=1).graph == task(fixed, seed=2).graph, "graph_seed fixes the graph across job seeds"


def test_custom_parent_lists():
    tree = task({"graph": "custom", "seq_len": 6, "parents": "-,0,0,1,2"}).graph
    assert tree.parents == ((), (0,), (0,), (1,), (2,), ()) and tree.target == (5,)
    dag = task({"graph": "custom", "seq_len": 4, "parents": "-,0+0,0+1,1+2,2+3"}).graph
    assert dag.order == 2 and dag.parents[3] == (1, 2) and dag.target == (2, 3)
    for bad in ("-,0,5,1,2", "-,0,x,1,2", "-,0,1", "-,0+1,0,1,2"):
        with pytest.raises(ConfigError):
            parse_config(CausalICLConfig, {"graph": "custom", "seq_len": 6, "parents": bad})
    with pytest.raises(ConfigError):
        parse_config(CausalICLConfig, {"graph": "chain", "parents": "-,0"})


def test_stationary_distribution_is_stationary():
    pi = np.random.default_rng(0).dirichlet(np.full(6, 0.1), size=(50, 6))
    mu = stationary(pi)
    np.testing.assert_allclose(np.einsum("bi,bij->bj", mu, pi), mu, atol=1e-8)


def test_generator_transition_counts_match_pi():
    """Chi-square of transition counts (parent token c -> child token k) against Σ π_b[c, k] over the draws."""
    t = task({"graph": "random-tree", "vocab_size": 4, "seq_len": 16}, seed=5)
    batch = t.sample(4000, np.random.default_rng(1))
    tokens, pi = batch.tokens.numpy(), batch.transitions
    S = 4
    observed, expected = np.zeros((S, S)), np.zeros((S, S))
    roots_observed, roots_expected = np.zeros(S), np.zeros(S)
    mu = stationary(pi)
    for i, parents in enumerate(t.graph.parents):
        if i in t.graph.uniform:
            continue
        if not parents:
            roots_observed += np.bincount(tokens[:, i], minlength=S)
            roots_expected += mu.sum(axis=0)
            continue
        context = tokens[:, parents[0]]
        np.add.at(observed, (context, tokens[:, i]), 1)
        np.add.at(expected, context, pi[np.arange(len(tokens)), context])
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < stats.chi2.ppf(0.999, S * (S - 1)), chi2
    roots_chi2 = ((roots_observed - roots_expected) ** 2 / roots_expected).sum()
    assert roots_chi2 < stats.chi2.ppf(0.999, S - 1), roots_chi2
    # targets are π's row for the query token, and next tokens are drawn from them
    query = tokens[:, -1]
    np.testing.assert_allclose(batch.targets.numpy(), pi[np.arange(len(tokens)), query], rtol=1e-6, atol=1e-30)
    next_counts = np.bincount(batch.next_tokens.numpy(), minlength=S)
    next_expected = batch.targets.numpy().astype(float).sum(axis=0)
    assert ((next_counts - next_expected) ** 2 / next_expected).sum() < stats.chi2.ppf(0.999, S - 1)


def test_bayes_predictor_counts_transitions_from_the_query_token():
    t = task({"graph": "chain", "vocab_size": 3, "seq_len": 6, "alpha": 0.5})
    tokens = np.array([[0, 1, 0, 2, 1, 0]])  # query 0; transitions out of 0: 0->1, 0->2
    np.testing.assert_allclose(t.bayes(tokens)[0], np.array([0.5, 1.5, 1.5]) / 3.5)


def test_disentangled_transformer_has_the_papers_shapes_and_zero_init():
    config = parse_config(CausalICLConfig, {})
    model = build_network(config, 0)
    assert isinstance(model, DisentangledTransformer)
    assert [tuple(a.shape) for a in model.A] == [(1, 30, 30), (1, 60, 60)] and tuple(model.W.shape) == (120, 10)
    assert parameter_count(config) == sum(p.numel() for p in model.parameters())
    tokens = task({}).sample(4, np.random.default_rng(0)).tokens
    torch.testing.assert_close(model(tokens).softmax(-1), torch.full((4, 10), 0.1))
    standard = parse_config(CausalICLConfig, {"model": "transformer", "heads": "2,1"})
    assert parameter_count(standard) == sum(p.numel() for p in build_network(standard, 0).parameters())


def test_chain_first_layer_attends_to_the_previous_position(chain_run):
    recovery = measure(chain_run.model, chain_run.config, chain_run.task, 2048, numpy_rng(9, "test"))
    assert recovery.accuracy >= 0.95, [p.recovered_parents for p in recovery.positions]
    assert recovery.test_loss <= 1.10 * recovery.bayes_loss, (recovery.test_loss, recovery.bayes_loss)
    # the second layer is an induction head: it looks where the previous token equals the query token
    assert recovery.induction_score is not None and recovery.induction_score > 0.5


def test_bayes_predictor_beats_trained_and_untrained_models_on_the_same_data(chain_run):
    config = chain_run.config
    untrained = build_network(config, 0)
    for model in (chain_run.model, untrained):
        recovery = measure(model, config, chain_run.task, 4096, numpy_rng(11, "test"))
        assert recovery.bayes_loss < recovery.test_loss


@pytest.mark.parametrize(
    "overrides",
    [
        {"graph": "two-parent", "vocab_size": 5, "seq_len": 12, "heads": "2,1"},
        {"model": "transformer", "graph": "icl-pairs", "heads": "1,1"},
        {"optimizer": "sgd", "lr": 1.0},
    ],
)
def test_other_graphs_models_and_the_papers_optimizer_train(overrides):
    config = parse_config(CausalICLConfig, {**overrides, "batch_size": 64})
    run = CausalICL().new_run(config, seed=0, steps=60)
    first = run.evaluate()["test_loss"]
    for step in range(60):
        assert np.isfinite(run.train_step(step)["loss"])
    assert run.evaluate()["test_loss"] < first


def test_a_restored_run_continues_exactly():
    config = parse_config(CausalICLConfig, {"batch_size": 32})
    restored_and_whole(CausalICL(), config, seed=3, steps=20, stop=10)
