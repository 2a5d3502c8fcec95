from probe_wire.v1 import tensor_pb2 as _tensor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
