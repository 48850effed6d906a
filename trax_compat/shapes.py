"""Shape and dtype descriptions of arrays, as Trax's ``trax.shapes``."""

import numpy as np


class ShapeDtype:
    """The shape and dtype of an array (no data), printed as Trax prints it."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype=np.float32):
        if hasattr(shape, "as_list"):  # a tf.TensorShape
            shape = shape.as_list()
        if isinstance(shape, int):
            shape = (shape,)
        self.shape = tuple(shape)
        # A tf.DType, as Trax accepts, becomes its NumPy type.
        self.dtype = getattr(dtype, "as_numpy_dtype", dtype)

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
        """1: a signature of one array, as Trax counts signatures (a tuple
        of n ShapeDtypes has length n)."""
        return 1

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
    if isinstance(obj, tuple):  # namedtuples too, as in Trax
        return tuple(signature(x) for x in obj)
    if isinstance(obj, list):
        return [signature(x) for x in obj]
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


def assert_shape_equals(array, shape):
    """Raises AssertionError unless ``array`` has shape ``shape``."""
    if tuple(array.shape) != tuple(shape):
        raise AssertionError(
            f"Invalid shape {tuple(array.shape)}; expected {tuple(shape)}.")


def assert_same_shape(array1, array2):
    """Raises AssertionError unless the two arrays have the same shape."""
    assert_shape_equals(array1, array2.shape)

from trax_compat import missing as _missing  # noqa: E402

# A Trax name not here yet (or a Trax submodule not imported yet).
__getattr__ = _missing.module_getattr(__name__)
