from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_message_bytes", "max_batch", "max_seq_len", "max_steps", "max_parameters", "max_hvp_iterations")
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    MAX_HVP_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    max_message_bytes: int
    max_batch: int
    max_seq_len: int
    max_steps: int
    max_parameters: int
    max_hvp_iterations: int
    def __init__(self, max_message_bytes: _Optional[int] = ..., max_batch: _Optional[int] = ..., max_seq_len: _Optional[int] = ..., max_steps: _Optional[int] = ..., max_parameters: _Optional[int] = ..., max_hvp_iterations: _Optional[int] = ...) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("package_version", "api_version", "device", "slots", "limits")
    PACKAGE_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    package_version: str
    api_version: str
    device: str
    slots: int
    limits: Limits
    def __init__(self, package_version: _Optional[str] = ..., api_version: _Optional[str] = ..., device: _Optional[str] = ..., slots: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...
