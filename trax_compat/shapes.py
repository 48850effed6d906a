"""Shape and dtype descriptions of arrays, as Trax's ``trax.shapes``."""

import numpy as np


class ShapeDtype:
    """The shape and dtype of an array (no data), printed as Trax prints it."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype=np.float32):
        if isinstance(shape, int):
            shape = (shape,)
        self.shape = tuple(shape)
        self.dtype = dtype

    def __eq__(self, other):
        return (isinstance(other, ShapeDtype) and self.shape == other.shape
                and np.dtype(self.dtype) == np.dtype(other.dtype))

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.shape, np.dtype(self.dtype).name))

    def __repr__(self):
        return f"ShapeDtype{{shape:{self.shape}, dtype:{self.dtype}}}"

    def __len__(self):
        return len(self.shape)

    def as_tuple(self):
        return self.shape, self.dtype

    def replace(self, **kwargs):
        return ShapeDtype(kwargs.get("shape", self.shape),
                          kwargs.get("dtype", self.dtype))


def _dtype_of(x):
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.asarray(x).dtype
    # Keep NumPy's dtype objects printable the way Trax prints them.
    return np.dtype(dtype)


def signature(obj):
    """Returns a ShapeDtype (or a tuple/list of them) describing ``obj``."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(signature(x) for x in obj)
    if isinstance(obj, dict):
        return {k: signature(v) for k, v in obj.items()}
    if isinstance(obj, ShapeDtype):
        return obj
    shape = getattr(obj, "shape", None)
    if shape is None:
        shape = np.shape(obj)
    return ShapeDtype(tuple(shape), _dtype_of(obj))


def splice_signatures(*sigs):
    """Concatenates signatures into one tuple, unpacking tuples."""
    result = []
    for sig in sigs:
        if isinstance(sig, (list, tuple)):
            result.extend(sig)
        else:
            result.append(sig)
    return result[0] if len(result) == 1 else tuple(result)


def assert_same_shape(a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"Shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
