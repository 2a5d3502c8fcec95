"""probe_models: the science of probe — tasks, networks, training and probes, free of gRPC."""

__version__ = "0.1.0"
