"""Fuzzed request bodies from the proto descriptors: random messages, mutations of valid ones, raw bytes.

Values are drawn from each field's type with a bias toward the edges that break servers (0, -1, the type's
extremes, NaN and infinities, empty, huge and path-like strings, unknown enum numbers, long repeated fields)
and, for strings, from a vocabulary of names the server knows (ids, families, hooks), so that a random
message sometimes reaches past the first check. Every draw comes from the ``random.Random`` passed in: a
seed replays a run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from google.protobuf import message_factory, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

F = FieldDescriptor
INT32 = (0, 1, -1, 2, 3, 7, 64, 255, 1000, 65_536, 2**31 - 1, -(2**31))
INT64 = (*INT32, 10**12, 2**53 + 1, 2**63 - 1, -(2**63))
UINT32 = (0, 1, 2, 7, 2**31, 2**32 - 1)
UINT64 = (*UINT32, 2**53 + 1, 2**64 - 1)
DOUBLES = (0.0, -0.0, 1.0, -1.0, 0.5, 1e-7, 1e-300, 1e300, 3.0, 100.0, math.inf, -math.inf, math.nan)
STRINGS = (
    "", "x", "0", "-1", "1e309", "nan", "../../etc/passwd", "/etc/passwd", "/dev/zero", "/proc/self/environ",
    "r9999999999999999999", "r²", "r-1", "\x00", "\ufffd",
    "é" * 40, "a" * 5000, "%s%n%x", "' OR 1=1 --", "job-0000000000000000", "ckpt-0000000000000000",
    "sweep-0000000000000000", "repro-0000000000000000", "blocks.0.attn.hook_pattern", "lanczos", "power",
)  # fmt: skip
SIGNED = {F.TYPE_INT32: INT32, F.TYPE_SINT32: INT32, F.TYPE_SFIXED32: INT32, F.TYPE_INT64: INT64,
          F.TYPE_SINT64: INT64, F.TYPE_SFIXED64: INT64, F.TYPE_UINT32: UINT32, F.TYPE_FIXED32: UINT32,
          F.TYPE_UINT64: UINT64, F.TYPE_FIXED64: UINT64}  # fmt: skip
BOUNDS = {F.CPPTYPE_INT32: (-(2**31), 2**31 - 1), F.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
          F.CPPTYPE_UINT32: (0, 2**32 - 1), F.CPPTYPE_UINT64: (0, 2**64 - 1)}  # fmt: skip
MAX_DEPTH = 3


class Fuzz:
    """Draws values, messages and byte strings; ``vocabulary`` holds names the server knows."""

    def __init__(self, rng: random.Random, vocabulary: Sequence[str] = ()) -> None:
        self.rng = rng
        self.vocabulary = list(vocabulary)

    def count(self) -> int:
        """How many elements a repeated field gets: mostly a few, sometimes many."""
        return self.rng.choice((0, 1, 1, 2, 3, 5, 8, 64, 1000))

    def string(self) -> str:
        roll = self.rng.random()
        if roll < 0.3 and self.vocabulary:
            word = self.rng.choice(self.vocabulary)
            return word if self.rng.random() < 0.7 else self._damage(word)
        if roll < 0.7:
            return self.rng.choice(STRINGS)
        return "".join(chr(self.rng.randrange(1, 0x3000)) for _ in range(self.rng.randrange(1, 40)))

    def _damage(self, word: str) -> str:
        if not word:
            return "x"
        cut = self.rng.randrange(len(word))
        return self.rng.choice((word[:cut], word + "/..", word[:cut] + "Z" + word[cut + 1 :], word.upper()))

    def raw(self) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.choice((0, 1, 3, 16, 64, 300))))

    def scalar(self, field: FieldDescriptor) -> Any:
        kind = field.type
        if kind == F.TYPE_BOOL:
            return self.rng.random() < 0.5
        if kind in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
            value = self.rng.choice(DOUBLES) if self.rng.random() < 0.7 else self.rng.uniform(-1e3, 1e3)
            return value if kind == F.TYPE_DOUBLE or not math.isfinite(value) or abs(value) < 3e38 else 1e38
        if kind == F.TYPE_STRING:
            return self.string()
        if kind == F.TYPE_BYTES:
            return self.raw()
        if kind == F.TYPE_ENUM:
            numbers = [v.number for v in field.enum_type.values]
            return self.rng.choice(numbers) if self.rng.random() < 0.8 else self.rng.choice((-1, 99, 2**31 - 1))
        low, high = BOUNDS[field.cpp_type]
        if self.rng.random() < 0.6:
            return self.rng.choice(SIGNED[kind])
        return self.rng.randint(max(low, -100), min(high, 100))

    def value(self, depth: int = 0) -> struct_pb2.Value:
        """A google.protobuf.Value: JSON-like, with NaN and infinities, nested a little."""
        value = struct_pb2.Value()
        roll = self.rng.randrange(6 if depth < MAX_DEPTH else 4)
        if roll == 0:
            value.null_value = struct_pb2.NULL_VALUE
        elif roll == 1:
            value.number_value = self.rng.choice((*DOUBLES, *[float(x) for x in INT32]))
        elif roll == 2:
            value.string_value = self.string()
        elif roll == 3:
            value.bool_value = self.rng.random() < 0.5
        elif roll == 4:
            for _ in range(self.rng.choice((0, 1, 3))):
                value.list_value.values.append(self.value(depth + 1))
        else:
            value.struct_value.CopyFrom(self.struct(depth + 1))
        return value

    def struct(self, depth: int = 0) -> struct_pb2.Struct:
        struct = struct_pb2.Struct()
        for _ in range(self.rng.choice((0, 1, 2, 4))):
            struct.fields[self.string()].CopyFrom(self.value(depth))
        return struct

    def message(self, descriptor: Descriptor, depth: int = 0) -> Message:
        """A message of ``descriptor``'s type with a random subset of its fields set at random."""
        message = _new(descriptor)
        for field in descriptor.fields:
            if self.rng.random() < 0.5:
                self.fill(message, field, depth)
        return message

    def fill(self, message: Message, field: FieldDescriptor, depth: int = 0) -> None:
        """Give ``field`` of ``message`` random contents (replacing what it held)."""
        message.ClearField(field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            target = getattr(message, field.name)
            for _ in range(min(self.count(), 8)):
                if value.message_type is None:
                    target[self.scalar(key)] = self.scalar(value)
                else:
                    target[self.scalar(key)].CopyFrom(self._sub(value.message_type, depth))
        elif field.is_repeated:
            target = getattr(message, field.name)
            count = self.count()
            if field.message_type is None:
                target.extend(self.scalar(field) for _ in range(count))
            elif depth < MAX_DEPTH:
                for _ in range(min(count, 64)):
                    target.add().CopyFrom(self._sub(field.message_type, depth))
        elif field.message_type is not None:
            if depth < MAX_DEPTH:
                getattr(message, field.name).CopyFrom(self._sub(field.message_type, depth))
        else:
            setattr(message, field.name, self.scalar(field))

    def _sub(self, descriptor: Descriptor, depth: int) -> Message:
        if descriptor.full_name == "google.protobuf.Struct":
            return self.struct(depth + 1)
        if descriptor.full_name == "google.protobuf.Value":
            return self.value(depth + 1)
        return self.message(descriptor, depth + 1)

    def mutate(self, valid: Message) -> Message:
        """``valid`` with one to three of its fields (or its Struct's entries) changed, cleared or corrupted."""
        message = _new(valid.DESCRIPTOR)
        message.CopyFrom(valid)
        for _ in range(self.rng.choice((1, 1, 2, 3))):
            self._mutate_one(message, 0)
        return message

    def _mutate_one(self, message: Message, depth: int) -> None:
        fields = message.DESCRIPTOR.fields
        if not fields:
            return
        if message.DESCRIPTOR.full_name == "google.protobuf.Struct":
            self._mutate_struct(message)  # type: ignore[arg-type]
            return
        field = self.rng.choice(fields)
        set_message = (
            field.message_type is not None
            and not field.is_repeated
            and message.HasField(field.name)
            and depth < MAX_DEPTH
        )
        if set_message and self.rng.random() < 0.6:
            self._mutate_one(getattr(message, field.name), depth + 1)  # go inside: a config's keys, a tensor's shape
        elif self.rng.random() < 0.2:
            message.ClearField(field.name)
        else:
            self.fill(message, field, depth)

    def _mutate_struct(self, struct: struct_pb2.Struct) -> None:
        keys = list(struct.fields)
        roll = self.rng.random()
        if keys and roll < 0.6:
            struct.fields[self.rng.choice(keys)].CopyFrom(self.value(1))
        elif keys and roll < 0.8:
            del struct.fields[self.rng.choice(keys)]
        else:
            struct.fields[self.string()].CopyFrom(self.value(1))

    def corrupt(self, body: bytes) -> bytes:
        """A valid body with bytes flipped, cut short or padded with junk."""
        if not body:
            return self.raw()
        data = bytearray(body)
        roll = self.rng.random()
        if roll < 0.5:
            for _ in range(self.rng.choice((1, 2, 4))):
                data[self.rng.randrange(len(data))] = self.rng.randrange(256)
            return bytes(data)
        if roll < 0.8:
            return bytes(data[: self.rng.randrange(len(data))])
        return bytes(data) + self.raw()


def _new(descriptor: Descriptor) -> Message:
    return message_factory.GetMessageClass(descriptor)()
