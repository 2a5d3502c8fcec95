"""One JobSpec and one validate(): SubmitJob, sweeps and reproductions refuse the same things the same way."""

import pytest

from probe_models.config import parse_config
from probe_models.errors import InvalidInput, TooLarge
from probe_models.registry import get_family
from probe_models.reproduction import SweepPlan
from probe_server.engine import JobEngine
from probe_server.errors import Conflict, NotFoundError
from probe_server.job_spec import JobSpec
from probe_server.metrics import Metrics
from probe_server.reproductions import ReproductionManager
from probe_server.settings import Limits
from probe_server.store import CheckpointRecord, Store
from probe_server.sweeps import SweepManager

FAMILY = get_family("eos")
CONFIG = parse_config(FAMILY.config_cls, {})


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "probe.db")
    yield store
    store.close()


def test_validate_fills_the_servers_defaults(store):
    spec = JobSpec(seed=7).validate(FAMILY, CONFIG, Limits(), store)
    assert spec.steps == FAMILY.default_steps and spec.seed == 7
    assert spec.log_every == max(1, FAMILY.default_steps // 100) and spec.checkpoint_every == 0
    assert spec.optimizer == "" and spec.trainable == ()
    mezo = JobSpec(steps=50, log_every=5, optimizer="mezo").validate(FAMILY, CONFIG, Limits(), store)
    assert mezo.steps == 50 and mezo.log_every == 5 and mezo.optimizer_config  # MeZO's config filled in
    assert JobSpec.stored(mezo.steps, mezo.seed, 0, 5, mezo.training()) == mezo  # what the store keeps round-trips


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        (JobSpec(steps=-1), InvalidInput, "steps must be >= 0"),
        (JobSpec(steps=11), TooLarge, "exceeds this server's limit of 10"),
        (JobSpec(steps=5, seed=2**63), InvalidInput, "seed"),
        (JobSpec(steps=5, log_every=-2), InvalidInput, "log_every must be >= 0"),
        (JobSpec(steps=5, checkpoint_every=-1), InvalidInput, "checkpoint_every must be >= 0"),
        (JobSpec(steps=5, optimizer="adamw"), InvalidInput, "adamw"),
        (JobSpec(steps=5, trainable=("no_such_layer",)), InvalidInput, "no_such_layer"),
        (JobSpec(steps=5, init_checkpoint="ckpt-0123456789abcdef"), NotFoundError, "no checkpoint"),
        (JobSpec(steps=5, init_checkpoint="../probe.db"), InvalidInput, "malformed"),
    ],
)
def test_validate_refuses_what_the_server_will_not_run(store, spec, error, words):
    with pytest.raises(error, match=words):
        spec.validate(FAMILY, CONFIG, Limits(max_steps=10), store)


def test_an_init_checkpoint_of_another_family_is_a_conflict(store):
    store.add_checkpoint(CheckpointRecord("ckpt-0123456789abcdef", "job-0", "mezo", 1, {}, 0, {}, 0.0, 1, "0"))
    with pytest.raises(Conflict, match="is a mezo model; this job trains eos"):
        JobSpec(init_checkpoint="ckpt-0123456789abcdef").validate(FAMILY, CONFIG, Limits(), store)


def test_a_model_past_the_size_limit_is_refused(store):
    with pytest.raises(TooLarge, match="parameters"):
        JobSpec().validate(FAMILY, CONFIG, Limits(max_parameters=10), store)


def test_reproductions_submit_through_the_same_validation(tmp_path, store):
    """A planned sweep is checked as a client's: past the server's step limit, or training an unknown group."""
    engine = JobEngine(store, tmp_path / "checkpoints", 1, Metrics([]), 1, "cpu", Limits())
    manager = ReproductionManager(SweepManager(engine, Limits(max_steps=10)), tmp_path / "reproductions")
    with pytest.raises(TooLarge, match="exceeds this server's limit of 10"):
        manager._submit("eos", SweepPlan("long", {}, {"lr": [0.1]}, steps=11), "repro-0123456789abcdef")
    with pytest.raises(InvalidInput, match="no_such_layer"):
        plan = SweepPlan("frozen", {}, {"lr": [0.1]}, steps=5, trainable=("no_such_layer",))
        manager._submit("eos", plan, "repro-0123456789abcdef")
    assert store.list_sweeps([], "", 10, None) == []
