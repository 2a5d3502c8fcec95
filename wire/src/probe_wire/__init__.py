"""The probe.v1 wire format, shared by the client and the server: the generated stubs (``probe_wire.v1``),
tensors and Structs as numpy and Python values, and the message-size limit both ends agree on.

It depends on grpcio, protobuf and numpy only, so the server installs none of the CLI's libraries.
"""

__version__ = "0.1.0"
