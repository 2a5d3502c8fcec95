from probe_wire.v1 import tensor_pb2 as _tensor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryFactsRequest(_message.Message):
    __slots__ = ("checkpoint_id", "subjects", "relations", "all_facts", "top_k", "noise_seed")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    ALL_FACTS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    NOISE_SEED_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    subjects: _containers.RepeatedScalarFieldContainer[int]
    relations: _containers.RepeatedScalarFieldContainer[int]
    all_facts: bool
    top_k: int
    noise_seed: int
    def __init__(self, checkpoint_id: _Optional[str] = ..., subjects: _Optional[_Iterable[int]] = ..., relations: _Optional[_Iterable[int]] = ..., all_facts: _Optional[bool] = ..., top_k: _Optional[int] = ..., noise_seed: _Optional[int] = ...) -> None: ...

class QueryFactsResponse(_message.Message):
    __slots__ = ("subjects", "relations", "answers", "probabilities", "stored_answers", "recalled", "accuracy", "backend")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    STORED_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    RECALLED_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    subjects: _tensor_pb2.Tensor
    relations: _tensor_pb2.Tensor
    answers: _tensor_pb2.Tensor
    probabilities: _tensor_pb2.Tensor
    stored_answers: _tensor_pb2.Tensor
    recalled: _tensor_pb2.Tensor
    accuracy: float
    backend: str
    def __init__(self, subjects: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., relations: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., answers: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., probabilities: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., stored_answers: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., recalled: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., accuracy: _Optional[float] = ..., backend: _Optional[str] = ...) -> None: ...

class ExtractAttentionRequest(_message.Message):
    __slots__ = ("checkpoint_id", "hooks", "tokens", "num_sequences", "seed", "average_over_batch", "heads")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NUM_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_OVER_BATCH_FIELD_NUMBER: _ClassVar[int]
    HEADS_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    hooks: _containers.RepeatedScalarFieldContainer[str]
    tokens: _tensor_pb2.Tensor
    num_sequences: int
    seed: int
    average_over_batch: bool
    heads: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, checkpoint_id: _Optional[str] = ..., hooks: _Optional[_Iterable[str]] = ..., tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., num_sequences: _Optional[int] = ..., seed: _Optional[int] = ..., average_over_batch: _Optional[bool] = ..., heads: _Optional[_Iterable[int]] = ...) -> None: ...

class Parents(_message.Message):
    __slots__ = ("parents",)
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    parents: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, parents: _Optional[_Iterable[int]] = ...) -> None: ...

class ExtractAttentionResponse(_message.Message):
    __slots__ = ("attention", "tokens", "query_positions", "heads", "true_parents")
    ATTENTION_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    QUERY_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    HEADS_FIELD_NUMBER: _ClassVar[int]
    TRUE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    attention: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    tokens: _tensor_pb2.Tensor
    query_positions: _containers.RepeatedScalarFieldContainer[int]
    heads: _containers.RepeatedScalarFieldContainer[int]
    true_parents: _containers.RepeatedCompositeFieldContainer[Parents]
    def __init__(self, attention: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ..., tokens: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., query_positions: _Optional[_Iterable[int]] = ..., heads: _Optional[_Iterable[int]] = ..., true_parents: _Optional[_Iterable[_Union[Parents, _Mapping]]] = ...) -> None: ...

class MeasureSharpnessRequest(_message.Message):
    __slots__ = ("checkpoint_id", "top_k", "num_examples", "seed", "max_iterations", "tolerance", "method", "trace_samples", "whole_training_set", "chunk_size", "float64", "warm_start", "return_eigenvectors")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TRACE_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    WHOLE_TRAINING_SET_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    FLOAT64_FIELD_NUMBER: _ClassVar[int]
    WARM_START_FIELD_NUMBER: _ClassVar[int]
    RETURN_EIGENVECTORS_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    top_k: int
    num_examples: int
    seed: int
    max_iterations: int
    tolerance: float
    method: str
    trace_samples: int
    whole_training_set: bool
    chunk_size: int
    float64: bool
    warm_start: _tensor_pb2.Tensor
    return_eigenvectors: bool
    def __init__(self, checkpoint_id: _Optional[str] = ..., top_k: _Optional[int] = ..., num_examples: _Optional[int] = ..., seed: _Optional[int] = ..., max_iterations: _Optional[int] = ..., tolerance: _Optional[float] = ..., method: _Optional[str] = ..., trace_samples: _Optional[int] = ..., whole_training_set: _Optional[bool] = ..., chunk_size: _Optional[int] = ..., float64: _Optional[bool] = ..., warm_start: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., return_eigenvectors: _Optional[bool] = ...) -> None: ...

class MeasureSharpnessResponse(_message.Message):
    __slots__ = ("eigenvalues", "residuals", "iterations", "hvp_count", "num_parameters", "num_examples", "method", "data", "dtype", "chunks", "trace", "trace_standard_error", "trace_samples", "eigenvectors")
    EIGENVALUES_FIELD_NUMBER: _ClassVar[int]
    RESIDUALS_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    HVP_COUNT_FIELD_NUMBER: _ClassVar[int]
    NUM_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    TRACE_STANDARD_ERROR_FIELD_NUMBER: _ClassVar[int]
    TRACE_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    EIGENVECTORS_FIELD_NUMBER: _ClassVar[int]
    eigenvalues: _containers.RepeatedScalarFieldContainer[float]
    residuals: _containers.RepeatedScalarFieldContainer[float]
    iterations: int
    hvp_count: int
    num_parameters: int
    num_examples: int
    method: str
    data: str
    dtype: str
    chunks: int
    trace: float
    trace_standard_error: float
    trace_samples: int
    eigenvectors: _tensor_pb2.Tensor
    def __init__(self, eigenvalues: _Optional[_Iterable[float]] = ..., residuals: _Optional[_Iterable[float]] = ..., iterations: _Optional[int] = ..., hvp_count: _Optional[int] = ..., num_parameters: _Optional[int] = ..., num_examples: _Optional[int] = ..., method: _Optional[str] = ..., data: _Optional[str] = ..., dtype: _Optional[str] = ..., chunks: _Optional[int] = ..., trace: _Optional[float] = ..., trace_standard_error: _Optional[float] = ..., trace_samples: _Optional[int] = ..., eigenvectors: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("checkpoint_id", "num_sequences", "seed")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    num_sequences: int
    seed: int
    def __init__(self, checkpoint_id: _Optional[str] = ..., num_sequences: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("accuracy", "test_loss", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    TEST_LOSS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    accuracy: float
    test_loss: float
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, accuracy: _Optional[float] = ..., test_loss: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class RecoverGraphRequest(_message.Message):
    __slots__ = ("checkpoint_id", "num_sequences", "seed")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    num_sequences: int
    seed: int
    def __init__(self, checkpoint_id: _Optional[str] = ..., num_sequences: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class RecoveredPosition(_message.Message):
    __slots__ = ("position", "true_parents", "recovered_parents", "parent_mass", "correct")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TRUE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_PARENTS_FIELD_NUMBER: _ClassVar[int]
    PARENT_MASS_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    position: int
    true_parents: _containers.RepeatedScalarFieldContainer[int]
    recovered_parents: _containers.RepeatedScalarFieldContainer[int]
    parent_mass: float
    correct: bool
    def __init__(self, position: _Optional[int] = ..., true_parents: _Optional[_Iterable[int]] = ..., recovered_parents: _Optional[_Iterable[int]] = ..., parent_mass: _Optional[float] = ..., correct: _Optional[bool] = ...) -> None: ...

class RecoverGraphResponse(_message.Message):
    __slots__ = ("graph", "layer", "positions", "parent_accuracy", "parent_mass", "induction_score", "test_loss", "bayes_loss", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    PARENT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    PARENT_MASS_FIELD_NUMBER: _ClassVar[int]
    INDUCTION_SCORE_FIELD_NUMBER: _ClassVar[int]
    TEST_LOSS_FIELD_NUMBER: _ClassVar[int]
    BAYES_LOSS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    graph: str
    layer: int
    positions: _containers.RepeatedCompositeFieldContainer[RecoveredPosition]
    parent_accuracy: float
    parent_mass: float
    induction_score: float
    test_loss: float
    bayes_loss: float
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, graph: _Optional[str] = ..., layer: _Optional[int] = ..., positions: _Optional[_Iterable[_Union[RecoveredPosition, _Mapping]]] = ..., parent_accuracy: _Optional[float] = ..., parent_mass: _Optional[float] = ..., induction_score: _Optional[float] = ..., test_loss: _Optional[float] = ..., bayes_loss: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class MeasureStabilizationRequest(_message.Message):
    __slots__ = ("checkpoint_id", "steps", "projected")
    CHECKPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_FIELD_NUMBER: _ClassVar[int]
    checkpoint_id: str
    steps: int
    projected: bool
    def __init__(self, checkpoint_id: _Optional[str] = ..., steps: _Optional[int] = ..., projected: _Optional[bool] = ...) -> None: ...

class MeasureStabilizationResponse(_message.Message):
    __slots__ = ("lr", "threshold", "sharpness", "alpha", "beta", "delta", "gradient_norm", "sharpness_gradient_norm", "steps", "x_measured", "y_measured", "x_predicted", "y_predicted", "loss", "sharpness_along_gd", "projected_distance", "projected_sharpness", "hvp_count", "displacement")
    LR_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_NORM_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_GRADIENT_NORM_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    X_MEASURED_FIELD_NUMBER: _ClassVar[int]
    Y_MEASURED_FIELD_NUMBER: _ClassVar[int]
    X_PREDICTED_FIELD_NUMBER: _ClassVar[int]
    Y_PREDICTED_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_ALONG_GD_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    HVP_COUNT_FIELD_NUMBER: _ClassVar[int]
    DISPLACEMENT_FIELD_NUMBER: _ClassVar[int]
    lr: float
    threshold: float
    sharpness: float
    alpha: float
    beta: float
    delta: float
    gradient_norm: float
    sharpness_gradient_norm: float
    steps: _containers.RepeatedScalarFieldContainer[int]
    x_measured: _containers.RepeatedScalarFieldContainer[float]
    y_measured: _containers.RepeatedScalarFieldContainer[float]
    x_predicted: _containers.RepeatedScalarFieldContainer[float]
    y_predicted: _containers.RepeatedScalarFieldContainer[float]
    loss: _containers.RepeatedScalarFieldContainer[float]
    sharpness_along_gd: _containers.RepeatedScalarFieldContainer[float]
    projected_distance: _containers.RepeatedScalarFieldContainer[float]
    projected_sharpness: _containers.RepeatedScalarFieldContainer[float]
    hvp_count: int
    displacement: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, lr: _Optional[float] = ..., threshold: _Optional[float] = ..., sharpness: _Optional[float] = ..., alpha: _Optional[float] = ..., beta: _Optional[float] = ..., delta: _Optional[float] = ..., gradient_norm: _Optional[float] = ..., sharpness_gradient_norm: _Optional[float] = ..., steps: _Optional[_Iterable[int]] = ..., x_measured: _Optional[_Iterable[float]] = ..., y_measured: _Optional[_Iterable[float]] = ..., x_predicted: _Optional[_Iterable[float]] = ..., y_predicted: _Optional[_Iterable[float]] = ..., loss: _Optional[_Iterable[float]] = ..., sharpness_along_gd: _Optional[_Iterable[float]] = ..., projected_distance: _Optional[_Iterable[float]] = ..., projected_sharpness: _Optional[_Iterable[float]] = ..., hvp_count: _Optional[int] = ..., displacement: _Optional[_Iterable[float]] = ...) -> None: ...
