"""probe_server: the gRPC server that trains, stores and probes probe_models families."""

__version__ = "0.1.0"
