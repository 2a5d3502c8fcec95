"""Plain Python results of ProbeClient calls, converted from the wire messages, one module per service."""

from probe_client.types.activations import ActivationCache, HookEdit, HookInfo, Intervention, PatchingResult
from probe_client.types.fields import FINAL_STATES, state_name, state_value
from probe_client.types.jobs import Checkpoint, Job, JobEvent, TrainingOptions
from probe_client.types.probes import (
    Attention,
    Evaluation,
    FactQueryResult,
    GraphRecovery,
    RecoveredPosition,
    Sharpness,
    Stabilization,
)
from probe_client.types.registry import ConfigField, Family, Optimizer, ServerInfo
from probe_client.types.sweeps import (
    Reproduction,
    ReproductionUpdate,
    SearchResult,
    Sweep,
    SweepChild,
    SweepEvent,
    sweep_state_name,
    sweep_state_value,
)

__all__ = [
    "FINAL_STATES",
    "ActivationCache",
    "Attention",
    "Checkpoint",
    "ConfigField",
    "Evaluation",
    "FactQueryResult",
    "Family",
    "GraphRecovery",
    "HookEdit",
    "HookInfo",
    "Intervention",
    "Job",
    "JobEvent",
    "Optimizer",
    "PatchingResult",
    "RecoveredPosition",
    "Reproduction",
    "ReproductionUpdate",
    "SearchResult",
    "ServerInfo",
    "Sharpness",
    "Stabilization",
    "Sweep",
    "SweepChild",
    "SweepEvent",
    "TrainingOptions",
    "state_name",
    "state_value",
    "sweep_state_name",
    "sweep_state_value",
]
