from probe_wire.v1 import tensor_pb2 as _tensor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EditKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EDIT_KIND_UNSPECIFIED: _ClassVar[EditKind]
    EDIT_KIND_SET: _ClassVar[EditKind]
    EDIT_KIND_ZERO: _ClassVar[EditKind]
    EDIT_KIND_MEAN: _ClassVar[EditKind]
    EDIT_KIND_ADD: _ClassVar[EditKind]
    EDIT_KIND_PATCH: _ClassVar[EditKind]

class SweepAxis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SWEEP_AXIS_UNSPECIFIED: _ClassVar[SweepAxis]
    SWEEP_AXIS_POSITION: _ClassVar[SweepAxis]
    SWEEP_AXIS_HEAD: _ClassVar[SweepAxis]
EDIT_KIND_UNSPECIFIED: EditKind
EDIT_KIND_SET: EditKind
EDIT_KIND_ZERO: EditKind
EDIT_KIND_MEAN: EditKind
EDIT_KIND_ADD: EditKind
EDIT_KIND_PATCH: EditKind
SWEEP_AXIS_UNSPECIFIED: SweepAxis
SWEEP_AXIS_POSITION: SweepAxis
SWEEP_AXIS_HEAD: SweepAxis

class ListHooksRequest(_message.Message):
    __slots__ = ("checkpoint_id", "seq_len")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    seq_len: int
    def __init__(self, checkpoint_id: _Optional[str] = ..., seq_len: _Optional[int] = ...) -> None: ...

class HookInfo(_message.Message):
    __slots__ = ("name", "axes", "shape", "transformer_lens", "meaning")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AXES_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    TRANSFORMER_LENS_FIELD_NUMBER: _ClassVar[int]
    MEANING_FIELD_NUMBER: _ClassVar[int]
    name: str
    axes: _containers.RepeatedScalarFieldContainer[str]
    shape: _containers.RepeatedScalarFieldContainer[int]
    transformer_lens: bool
    meaning: str
    def __init__(self, name: _Optional[str] = ..., axes: _Optional[_Iterable[str]] = ..., shape: _Optional[_Iterable[int]] = ..., transformer_lens: _Optional[bool] = ..., meaning: _Optional[str] = ...) -> None: ...

class ListHooksResponse(_message.Message):
    __slots__ = ("hooks", "seq_len")
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    hooks: _containers.RepeatedCompositeFieldContainer[HookInfo]
    seq_len: int
    def __init__(self, hooks: _Optional[_Iterable[_Union[HookInfo, _Mapping]]] = ..., seq_len: _Optional[int] = ...) -> None: ...

class RunWithCacheRequest(_message.Message):
    __slots__ = ("checkpoint_id", "hooks", "tokens", "num_sequences", "seed", "return_logits", "return_loss")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NUM_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RETURN_LOGITS_FIELD_NUMBER: _ClassVar[int]
    RETURN_LOSS_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    hooks: _containers.RepeatedScalarFieldContainer[str]
    tokens: _tensor_pb2.Tensor
    num_sequences: int
    seed: int
    return_logits: bool
    return_loss: bool
    def __init__(self, checkpoint_id: _Optional[str] = ..., hooks: _Optional[_Iterable[str]] = ..., tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., num_sequences: _Optional[int] = ..., seed: _Optional[int] = ..., return_logits: _Optional[bool] = ..., return_loss: _Optional[bool] = ...) -> None: ...

class RunWithCacheResponse(_message.Message):
    __slots__ = ("activations", "tokens", "logits", "loss")
    ACTIVATIONS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    activations: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    tokens: _tensor_pb2.Tensor
    logits: _tensor_pb2.Tensor
    loss: _tensor_pb2.Tensor
    def __init__(self, activations: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ..., tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., logits: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., loss: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class HookEdit(_message.Message):
    __slots__ = ("hook", "kind", "positions", "heads", "value")
    HOOK_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    HEADS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    hook: str
    kind: EditKind
    positions: _containers.RepeatedScalarFieldContainer[int]
    heads: _containers.RepeatedScalarFieldContainer[int]
    value: _tensor_pb2.Tensor
    def __init__(self, hook: _Optional[str] = ..., kind: _Optional[_Union[EditKind, str]] = ..., positions: _Optional[_Iterable[int]] = ..., heads: _Optional[_Iterable[int]] = ..., value: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class InterveneRequest(_message.Message):
    __slots__ = ("checkpoint_id", "tokens", "num_sequences", "seed", "source_tokens", "source_seed", "edits", "hooks", "return_logits", "loss_on_source")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NUM_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SEED_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    RETURN_LOGITS_FIELD_NUMBER: _ClassVar[int]
    LOSS_ON_SOURCE_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    tokens: _tensor_pb2.Tensor
    num_sequences: int
    seed: int
    source_tokens: _tensor_pb2.Tensor
    source_seed: int
    edits: _containers.RepeatedCompositeFieldContainer[HookEdit]
    hooks: _containers.RepeatedScalarFieldContainer[str]
    return_logits: bool
    loss_on_source: bool
    def __init__(self, checkpoint_id: _Optional[str] = ..., tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., num_sequences: _Optional[int] = ..., seed: _Optional[int] = ..., source_tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., source_seed: _Optional[int] = ..., edits: _Optional[_Iterable[_Union[HookEdit, _Mapping]]] = ..., hooks: _Optional[_Iterable[str]] = ..., return_logits: _Optional[bool] = ..., loss_on_source: _Optional[bool] = ...) -> None: ...

class InterveneResponse(_message.Message):
    __slots__ = ("tokens", "source_tokens", "clean_loss", "loss", "clean_logits", "logits", "activations")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_LOSS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_LOGITS_FIELD_NUMBER: _ClassVar[int]
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATIONS_FIELD_NUMBER: _ClassVar[int]
    tokens: _tensor_pb2.Tensor
    source_tokens: _tensor_pb2.Tensor
    clean_loss: _tensor_pb2.Tensor
    loss: _tensor_pb2.Tensor
    clean_logits: _tensor_pb2.Tensor
    logits: _tensor_pb2.Tensor
    activations: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    def __init__(self, tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., source_tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., clean_loss: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., loss: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., clean_logits: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., logits: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., activations: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ...) -> None: ...

class PatchSweepRequest(_message.Message):
    __slots__ = ("checkpoint_id", "clean_tokens", "corrupt_tokens", "num_sequences", "seed", "corrupt_seed", "hooks", "axis")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    CLEAN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    NUM_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_SEED_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    AXIS_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    clean_tokens: _tensor_pb2.Tensor
    corrupt_tokens: _tensor_pb2.Tensor
    num_sequences: int
    seed: int
    corrupt_seed: int
    hooks: _containers.RepeatedScalarFieldContainer[str]
    axis: SweepAxis
    def __init__(self, checkpoint_id: _Optional[str] = ..., clean_tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., corrupt_tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., num_sequences: _Optional[int] = ..., seed: _Optional[int] = ..., corrupt_seed: _Optional[int] = ..., hooks: _Optional[_Iterable[str]] = ..., axis: _Optional[_Union[SweepAxis, str]] = ...) -> None: ...

class PatchSweepResponse(_message.Message):
    __slots__ = ("hooks", "loss", "clean_loss", "corrupt_loss", "clean_tokens", "corrupt_tokens")
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_LOSS_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_LOSS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    hooks: _containers.RepeatedScalarFieldContainer[str]
    loss: _tensor_pb2.Tensor
    clean_loss: float
    corrupt_loss: float
    clean_tokens: _tensor_pb2.Tensor
    corrupt_tokens: _tensor_pb2.Tensor
    def __init__(self, hooks: _Optional[_Iterable[str]] = ..., loss: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., clean_loss: _Optional[float] = ..., corrupt_loss: _Optional[float] = ..., clean_tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., corrupt_tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...
