"""The files of a checkpoint directory, by name: imported where torch is not (a Ray job actor)."""

WEIGHTS = "weights.safetensors"
OPTIMIZER = "optimizer.safetensors"
META = "meta.json"
ONNX = "model.onnx"
TRANSFERRED = (WEIGHTS, OPTIMIZER, META)  # what a checkpoint is, sent between machines (the ONNX graph is derived)
