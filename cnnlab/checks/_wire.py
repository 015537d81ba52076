"""Values as plain data, to cross from a grading kernel to the grader and back.

When grading, the learner's function runs in a sandboxed kernel and the check
runs in the grader (:mod:`cnnlab.grading.remote`). What crosses between them
is JSON: numbers, strings, lists and dicts as themselves, arrays as ``.npy``
bytes in base64 (written and read with ``allow_pickle=False``, so no object
arrays and no code), and anything else as its type name and a short repr.
Nothing the kernel sends can run code in the grader: :func:`decode` only
builds numbers, strings, tuples, lists, dicts, numeric arrays and
:class:`Opaque` stand-ins.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re

import numpy as np

__all__ = ["MAX_BYTES", "Opaque", "WireError", "decode", "dumps", "encode", "loads"]

#: The most a message may hold (encoded); more is refused, not parsed.
MAX_BYTES = 64 * 1024 * 1024
_DEPTH = 20
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,79}$")


class WireError(ValueError):
    """A message that is not plain data as this module writes it."""


class Opaque:
    """What the grader gets for a value it cannot rebuild: its type name and repr.

    ``type(value).__name__`` is the learner's type name, so a message can say
    "returned a Model" as it would in the notebook.
    """

    def __init__(self, text: str):
        self._text = text

    def __repr__(self) -> str:
        return self._text


def _opaque(type_name: str, text: str) -> Opaque:
    name = type_name if _NAME.match(type_name) else "object"
    cls = type(name.rsplit(".", 1)[-1], (Opaque,), {})
    return cls(text[:200])


def encode(value, _depth: int = 0):
    """``value`` as JSON-ready data (see the module docstring)."""
    if _depth > _DEPTH:
        return {"opaque": "object", "repr": "(nested too deeply)"}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int) and type(value) is int:
        return value
    if isinstance(value, float) and type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"scalar": value.dtype.str, "value": encode(value.item(), _depth + 1)}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"array": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, tuple | list) and type(value) in (tuple, list):
        items = [encode(v, _depth + 1) for v in value]
        return {"tuple": items} if isinstance(value, tuple) else {"list": items}
    if isinstance(value, dict) and type(value) is dict and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v, _depth + 1) for k, v in value.items()}}
    try:
        text = repr(value)[:200]
    except Exception:
        text = f"<{type(value).__name__}>"
    return {"opaque": type(value).__name__, "repr": text}


def decode(data, _depth: int = 0):
    """The value :func:`encode` made ``data`` from; :class:`WireError` for anything else."""
    if _depth > _DEPTH + 1:
        raise WireError("nested too deeply")
    if data is None or isinstance(data, bool | str | int | float):
        return data
    if isinstance(data, dict) and len(data) in (1, 2):
        (key, *_) = data
        if key == "float" and data["float"] in ("nan", "inf", "-inf"):
            return float(data["float"])
        if key == "scalar" and isinstance(data["scalar"], str):
            dtype = np.dtype(data["scalar"])
            if dtype.kind not in "biuf":
                raise WireError(f"a scalar of dtype {dtype}")
            return dtype.type(decode(data["value"], _depth + 1))
        if key == "array" and isinstance(data["array"], str):
            return _array(base64.b64decode(data["array"], validate=True))
        if key in ("tuple", "list") and isinstance(data[key], list):
            items = [decode(v, _depth + 1) for v in data[key]]
            return tuple(items) if key == "tuple" else items
        if key == "dict" and isinstance(data["dict"], dict):
            return {str(k): decode(v, _depth + 1) for k, v in data["dict"].items()}
        if key == "opaque" and isinstance(data["opaque"], str):
            return _opaque(data["opaque"], str(data.get("repr", "")))
    raise WireError(f"not a value this grader sends or reads: {str(data)[:80]}")


def _array(raw: bytes) -> np.ndarray:
    """An ``.npy`` file's array, once its header agrees with its size (no huge allocation)."""
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise WireError(f".npy version {version}")
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read_header(stream)
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise WireError(f"an array of dtype {dtype}")
    if math.prod(shape) * dtype.itemsize != len(raw) - stream.tell():
        raise WireError(f"an array of shape {shape} whose data has another size")
    array = np.frombuffer(raw, dtype=dtype, offset=stream.tell()).reshape(
        shape, order="F" if fortran else "C"
    )
    return array.copy()


def dumps(value) -> str:
    return json.dumps(encode(value), allow_nan=False)


def loads(text: str | bytes):
    if len(text) > MAX_BYTES:
        raise WireError(f"a message of {len(text)} bytes (at most {MAX_BYTES})")
    try:
        return decode(json.loads(text))
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        if isinstance(error, WireError):
            raise
        raise WireError(str(error)[:200]) from None
