from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConfigField(_message.Message):
    __slots__ = ("name", "type", "default_value", "min", "max", "choices", "help")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    default_value: _struct_pb2.Value
    min: float
    max: float
    choices: _containers.RepeatedScalarFieldContainer[str]
    help: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., default_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., choices: _Optional[_Iterable[str]] = ..., help: _Optional[str] = ...) -> None: ...

class Family(_message.Message):
    __slots__ = ("name", "description", "paper", "default_steps", "config", "probes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PAPER_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_STEPS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    paper: str
    default_steps: int
    config: _containers.RepeatedCompositeFieldContainer[ConfigField]
    probes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., paper: _Optional[str] = ..., default_steps: _Optional[int] = ..., config: _Optional[_Iterable[_Union[ConfigField, _Mapping]]] = ..., probes: _Optional[_Iterable[str]] = ...) -> None: ...

class Optimizer(_message.Message):
    __slots__ = ("name", "description", "paper", "config")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PAPER_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    paper: str
    config: _containers.RepeatedCompositeFieldContainer[ConfigField]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., paper: _Optional[str] = ..., config: _Optional[_Iterable[_Union[ConfigField, _Mapping]]] = ...) -> None: ...

class ListFamiliesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFamiliesResponse(_message.Message):
    __slots__ = ("families", "optimizers")
    FAMILIES_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZERS_FIELD_NUMBER: _ClassVar[int]
    families: _containers.RepeatedCompositeFieldContainer[Family]
    optimizers: _containers.RepeatedCompositeFieldContainer[Optimizer]
    def __init__(self, families: _Optional[_Iterable[_Union[Family, _Mapping]]] = ..., optimizers: _Optional[_Iterable[_Union[Optimizer, _Mapping]]] = ...) -> None: ...
