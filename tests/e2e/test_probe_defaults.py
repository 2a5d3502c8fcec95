"""Family capabilities through the real server: ListFamilies names the probes each family answers; every one of
them succeeds with its defaults on a checkpoint trained briefly with the family's default config (the README's
`probe-cli sharpness CKPT --top-k 3` included), and every other is FAILED_PRECONDITION naming the family and its
probes."""

import grpc
import pytest

from probe_client import ProbeError
from probe_models.family import PROBES
from probe_models.registry import FAMILIES

STEPS = 2


@pytest.fixture(scope="module")
def checkpoints(client) -> dict[str, str]:
    jobs = {name: client.submit_job(name, {}, steps=STEPS).job_id for name in sorted(FAMILIES)}
    done = {name: client.wait(job_id) for name, job_id in jobs.items()}
    assert all(job.state == "SUCCEEDED" for job in done.values()), {n: j.error for n, j in done.items()}
    return {name: job.checkpoint_id for name, job in done.items()}


def call(client, probe: str, checkpoint_id: str):
    """One probe RPC with its defaults (QueryFacts needs a query: the first fact)."""
    return {
        "QueryFacts": lambda: client.query_facts(checkpoint_id, [(0, 0)]),
        "ExtractAttention": lambda: client.extract_attention(checkpoint_id),
        "RecoverGraph": lambda: client.recover_graph(checkpoint_id),
        "MeasureSharpness": lambda: client.measure_sharpness(checkpoint_id, top_k=3),
        "MeasureStabilization": lambda: client.measure_stabilization(checkpoint_id),
        "Evaluate": lambda: client.evaluate(checkpoint_id),
        "RunWithCache": lambda: client.run_with_cache(checkpoint_id, logits=True, loss=True),
    }[probe]()


def test_list_families_names_each_familys_probes(client):
    listed = {f.name: f.probes for f in client.families()}
    assert listed == {name: list(family.probes) for name, family in FAMILIES.items()}
    assert all(set(probes) <= set(PROBES) and "Evaluate" in probes for probes in listed.values())
    assert {p for probes in listed.values() for p in probes} == set(PROBES), "every probe has a family"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_probe_a_family_offers_works_with_its_defaults_and_the_others_are_refused(client, checkpoints, family):
    checkpoint_id, offered = checkpoints[family], FAMILIES[family].probes
    for probe in PROBES:
        if probe in offered:
            answer = call(client, probe, checkpoint_id)  # raises on failure
            if probe == "MeasureSharpness":
                check_default_sharpness(family, answer)
            continue
        with pytest.raises(ProbeError) as error:
            call(client, probe, checkpoint_id)
        assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION, (probe, error.value)
        assert f"family {family} does not answer {probe}; it answers {', '.join(offered)}" in error.value.message


def check_default_sharpness(family: str, report) -> None:
    """top_k = 3 answered with small residuals; a finite training set smaller than the default 1,024 examples
    (eos's 1,000, depth-ushape's) is taken whole, and the report says so."""
    assert len(report.eigenvalues) == 3 and report.eigenvalues[0] >= report.eigenvalues[2]
    assert all(abs(r) < 1e-2 * max(1.0, abs(v)) for r, v in zip(report.residuals, report.eigenvalues, strict=True))
    if family in ("eos", "depth-ushape"):
        assert report.num_examples < 1024 and str(report.num_examples) in report.data, report.data
    else:
        assert report.num_examples == 1024, report.data
