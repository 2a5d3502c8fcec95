import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReproductionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPRODUCTION_STATE_UNSPECIFIED: _ClassVar[ReproductionState]
    REPRODUCTION_STATE_RUNNING: _ClassVar[ReproductionState]
    REPRODUCTION_STATE_SUCCEEDED: _ClassVar[ReproductionState]
    REPRODUCTION_STATE_FAILED: _ClassVar[ReproductionState]
    REPRODUCTION_STATE_CANCELLED: _ClassVar[ReproductionState]
REPRODUCTION_STATE_UNSPECIFIED: ReproductionState
REPRODUCTION_STATE_RUNNING: ReproductionState
REPRODUCTION_STATE_SUCCEEDED: ReproductionState
REPRODUCTION_STATE_FAILED: ReproductionState
REPRODUCTION_STATE_CANCELLED: ReproductionState

class Reproduction(_message.Message):
    __slots__ = ("reproduction_id", "family", "scale", "state", "sweep_ids", "counts", "planned_children", "files", "passed", "message", "created_at", "finished_at")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    REPRODUCTION_ID_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SWEEP_IDS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PLANNED_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    reproduction_id: str
    family: str
    scale: str
    state: ReproductionState
    sweep_ids: _containers.RepeatedScalarFieldContainer[str]
    counts: _containers.ScalarMap[str, int]
    planned_children: int
    files: _containers.RepeatedScalarFieldContainer[str]
    passed: bool
    message: str
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, reproduction_id: _Optional[str] = ..., family: _Optional[str] = ..., scale: _Optional[str] = ..., state: _Optional[_Union[ReproductionState, str]] = ..., sweep_ids: _Optional[_Iterable[str]] = ..., counts: _Optional[_Mapping[str, int]] = ..., planned_children: _Optional[int] = ..., files: _Optional[_Iterable[str]] = ..., passed: _Optional[bool] = ..., message: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartReproductionRequest(_message.Message):
    __slots__ = ("family", "scale")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    family: str
    scale: str
    def __init__(self, family: _Optional[str] = ..., scale: _Optional[str] = ...) -> None: ...

class StartReproductionResponse(_message.Message):
    __slots__ = ("reproduction",)
    REPRODUCTION_FIELD_NUMBER: _ClassVar[int]
    reproduction: Reproduction
    def __init__(self, reproduction: _Optional[_Union[Reproduction, _Mapping]] = ...) -> None: ...

class GetReproductionRequest(_message.Message):
    __slots__ = ("reproduction_id",)
    REPRODUCTION_ID_FIELD_NUMBER: _ClassVar[int]
    reproduction_id: str
    def __init__(self, reproduction_id: _Optional[str] = ...) -> None: ...

class GetReproductionResponse(_message.Message):
    __slots__ = ("reproduction",)
    REPRODUCTION_FIELD_NUMBER: _ClassVar[int]
    reproduction: Reproduction
    def __init__(self, reproduction: _Optional[_Union[Reproduction, _Mapping]] = ...) -> None: ...

class CancelReproductionRequest(_message.Message):
    __slots__ = ("reproduction_id",)
    REPRODUCTION_ID_FIELD_NUMBER: _ClassVar[int]
    reproduction_id: str
    def __init__(self, reproduction_id: _Optional[str] = ...) -> None: ...

class CancelReproductionResponse(_message.Message):
    __slots__ = ("reproduction",)
    REPRODUCTION_FIELD_NUMBER: _ClassVar[int]
    reproduction: Reproduction
    def __init__(self, reproduction: _Optional[_Union[Reproduction, _Mapping]] = ...) -> None: ...

class DownloadReproductionRequest(_message.Message):
    __slots__ = ("reproduction_id",)
    REPRODUCTION_ID_FIELD_NUMBER: _ClassVar[int]
    reproduction_id: str
    def __init__(self, reproduction_id: _Optional[str] = ...) -> None: ...

class ReproductionFileChunk(_message.Message):
    __slots__ = ("name", "size_bytes", "offset", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    size_bytes: int
    offset: int
    data: bytes
    def __init__(self, name: _Optional[str] = ..., size_bytes: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class WatchReproductionRequest(_message.Message):
    __slots__ = ("reproduction_id", "after_seq")
    REPRODUCTION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    reproduction_id: str
    after_seq: int
    def __init__(self, reproduction_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class WatchReproductionResponse(_message.Message):
    __slots__ = ("seq", "reproduction")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    REPRODUCTION_FIELD_NUMBER: _ClassVar[int]
    seq: int
    reproduction: Reproduction
    def __init__(self, seq: _Optional[int] = ..., reproduction: _Optional[_Union[Reproduction, _Mapping]] = ...) -> None: ...
