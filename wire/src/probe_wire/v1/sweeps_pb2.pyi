import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from probe_wire.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SweepState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SWEEP_STATE_UNSPECIFIED: _ClassVar[SweepState]
    SWEEP_STATE_RUNNING: _ClassVar[SweepState]
    SWEEP_STATE_SUCCEEDED: _ClassVar[SweepState]
    SWEEP_STATE_FAILED: _ClassVar[SweepState]
    SWEEP_STATE_CANCELLED: _ClassVar[SweepState]
SWEEP_STATE_UNSPECIFIED: SweepState
SWEEP_STATE_RUNNING: SweepState
SWEEP_STATE_SUCCEEDED: SweepState
SWEEP_STATE_FAILED: SweepState
SWEEP_STATE_CANCELLED: SweepState

class GridAxis(_message.Message):
    __slots__ = ("key", "values")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    key: str
    values: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
    def __init__(self, key: _Optional[str] = ..., values: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ...) -> None: ...

class SearchSpec(_message.Message):
    __slots__ = ("key", "low", "high", "metric", "threshold", "log_scale", "resolution")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LOG_SCALE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    key: str
    low: float
    high: float
    metric: str
    threshold: float
    log_scale: bool
    resolution: float
    def __init__(self, key: _Optional[str] = ..., low: _Optional[float] = ..., high: _Optional[float] = ..., metric: _Optional[str] = ..., threshold: _Optional[float] = ..., log_scale: _Optional[bool] = ..., resolution: _Optional[float] = ...) -> None: ...

class SubmitSweepRequest(_message.Message):
    __slots__ = ("family", "base_config", "grid", "seeds", "seed", "steps", "checkpoint_every", "log_every", "search", "name", "training", "spec")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    BASE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_EVERY_FIELD_NUMBER: _ClassVar[int]
    LOG_EVERY_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    family: str
    base_config: _struct_pb2.Struct
    grid: _containers.RepeatedCompositeFieldContainer[GridAxis]
    seeds: int
    seed: int
    steps: int
    checkpoint_every: int
    log_every: int
    search: SearchSpec
    name: str
    training: _jobs_pb2.TrainingOptions
    spec: _jobs_pb2.JobSpec
    def __init__(self, family: _Optional[str] = ..., base_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., grid: _Optional[_Iterable[_Union[GridAxis, _Mapping]]] = ..., seeds: _Optional[int] = ..., seed: _Optional[int] = ..., steps: _Optional[int] = ..., checkpoint_every: _Optional[int] = ..., log_every: _Optional[int] = ..., search: _Optional[_Union[SearchSpec, _Mapping]] = ..., name: _Optional[str] = ..., training: _Optional[_Union[_jobs_pb2.TrainingOptions, _Mapping]] = ..., spec: _Optional[_Union[_jobs_pb2.JobSpec, _Mapping]] = ...) -> None: ...

class SweepChild(_message.Message):
    __slots__ = ("job_id", "point", "seed", "overrides", "state", "metrics", "node")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    point: int
    seed: int
    overrides: _struct_pb2.Struct
    state: _jobs_pb2.JobState
    metrics: _containers.ScalarMap[str, float]
    node: str
    def __init__(self, job_id: _Optional[str] = ..., point: _Optional[int] = ..., seed: _Optional[int] = ..., overrides: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., state: _Optional[_Union[_jobs_pb2.JobState, str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., node: _Optional[str] = ...) -> None: ...

class SearchResult(_message.Message):
    __slots__ = ("point", "best", "first_failure", "done", "probes")
    POINT_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    FIRST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    point: int
    best: float
    first_failure: float
    done: bool
    probes: int
    def __init__(self, point: _Optional[int] = ..., best: _Optional[float] = ..., first_failure: _Optional[float] = ..., done: _Optional[bool] = ..., probes: _Optional[int] = ...) -> None: ...

class Sweep(_message.Message):
    __slots__ = ("sweep_id", "name", "family", "base_config", "grid", "seeds", "seed", "steps", "search", "state", "counts", "children", "search_results", "planned_children", "created_at", "finished_at", "message", "training", "spec")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    BASE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    SEARCH_RESULTS_FIELD_NUMBER: _ClassVar[int]
    PLANNED_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    name: str
    family: str
    base_config: _struct_pb2.Struct
    grid: _containers.RepeatedCompositeFieldContainer[GridAxis]
    seeds: int
    seed: int
    steps: int
    search: SearchSpec
    state: SweepState
    counts: _containers.ScalarMap[str, int]
    children: _containers.RepeatedCompositeFieldContainer[SweepChild]
    search_results: _containers.RepeatedCompositeFieldContainer[SearchResult]
    planned_children: int
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    message: str
    training: _jobs_pb2.TrainingOptions
    spec: _jobs_pb2.JobSpec
    def __init__(self, sweep_id: _Optional[str] = ..., name: _Optional[str] = ..., family: _Optional[str] = ..., base_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., grid: _Optional[_Iterable[_Union[GridAxis, _Mapping]]] = ..., seeds: _Optional[int] = ..., seed: _Optional[int] = ..., steps: _Optional[int] = ..., search: _Optional[_Union[SearchSpec, _Mapping]] = ..., state: _Optional[_Union[SweepState, str]] = ..., counts: _Optional[_Mapping[str, int]] = ..., children: _Optional[_Iterable[_Union[SweepChild, _Mapping]]] = ..., search_results: _Optional[_Iterable[_Union[SearchResult, _Mapping]]] = ..., planned_children: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ..., training: _Optional[_Union[_jobs_pb2.TrainingOptions, _Mapping]] = ..., spec: _Optional[_Union[_jobs_pb2.JobSpec, _Mapping]] = ...) -> None: ...

class SubmitSweepResponse(_message.Message):
    __slots__ = ("sweep",)
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    sweep: Sweep
    def __init__(self, sweep: _Optional[_Union[Sweep, _Mapping]] = ...) -> None: ...

class GetSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class GetSweepResponse(_message.Message):
    __slots__ = ("sweep",)
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    sweep: Sweep
    def __init__(self, sweep: _Optional[_Union[Sweep, _Mapping]] = ...) -> None: ...

class ListSweepsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "states", "family")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[SweepState]
    family: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[SweepState, str]]] = ..., family: _Optional[str] = ...) -> None: ...

class ListSweepsResponse(_message.Message):
    __slots__ = ("sweeps", "next_page_token")
    SWEEPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sweeps: _containers.RepeatedCompositeFieldContainer[Sweep]
    next_page_token: str
    def __init__(self, sweeps: _Optional[_Iterable[_Union[Sweep, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class CancelSweepResponse(_message.Message):
    __slots__ = ("sweep",)
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    sweep: Sweep
    def __init__(self, sweep: _Optional[_Union[Sweep, _Mapping]] = ...) -> None: ...

class WatchSweepRequest(_message.Message):
    __slots__ = ("sweep_id", "after_seq")
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    after_seq: int
    def __init__(self, sweep_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class SweepEvent(_message.Message):
    __slots__ = ("sweep_id", "seq", "state", "job_id", "job_state", "counts", "message", "time")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_STATE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    seq: int
    state: SweepState
    job_id: str
    job_state: _jobs_pb2.JobState
    counts: _containers.ScalarMap[str, int]
    message: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, sweep_id: _Optional[str] = ..., seq: _Optional[int] = ..., state: _Optional[_Union[SweepState, str]] = ..., job_id: _Optional[str] = ..., job_state: _Optional[_Union[_jobs_pb2.JobState, str]] = ..., counts: _Optional[_Mapping[str, int]] = ..., message: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
