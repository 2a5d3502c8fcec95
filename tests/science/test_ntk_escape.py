"""Escaping the NTK at CPU scale: the combined model beats the NTK and the QuadNTK alone.

See docs/families/ntk-escape.md.
"""

from probe_models.config import parse_config
from probe_models.families.ntk_escape import NTKEscape, NTKEscapeConfig
from probe_models.training import advance

BASE = {"dim": 16, "width": 256, "samples": 1024}


def trained(learner: str, **overrides) -> dict[str, float]:
    config = parse_config(NTKEscapeConfig, {**BASE, "learner": learner, **overrides})
    run = NTKEscape().new_run(config, seed=0, steps=800)
    for step in range(run.max_steps):
        advance(run, step)
    return run.evaluate()


def test_the_combined_model_fits_what_neither_taylor_term_fits_alone():
    ntk = trained("ntk", solver="closed-form")
    quad = trained("quad-ntk")
    combined = trained("combined")
    # measured: test error 0.154 (NTK), 0.315 (QuadNTK), 0.069 (combined with R1)
    assert combined["test_error"] < 0.85 * ntk["test_error"], (combined, ntk)
    assert combined["test_error"] < 0.6 * quad["test_error"], (combined, quad)
    assert ntk["dense_captured"] > 0.95, "the NTK fits the dense linear part"
    assert quad["dense_captured"] < 0.8, "the QuadNTK alone does not"
    assert combined["dense_captured"] > 0.9 and combined["sparse_captured"] > quad["sparse_captured"] + 0.1
    # measured 0.10: R1 leaves the linear term's training output almost all in the top-d NTK directions
    assert combined["linear_outside_top_k"] < 0.2, "R1 keeps f_L's output in the top NTK directions"
