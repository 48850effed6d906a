"""Trax-compatible data pipelines: tokenization, shuffling, bucketing."""

from trax_compat.data.tokenizer import Tokenize
from trax_compat.data.tokenizer import detokenize
from trax_compat.data.tokenizer import tokenize
from trax_compat.data.tokenizer import vocab_size
from trax_compat.data.inputs import AddLossWeights
from trax_compat.data.inputs import Batch
from trax_compat.data.inputs import BucketByLength
from trax_compat.data.inputs import FilterByLength
from trax_compat.data.inputs import Serial
from trax_compat.data.inputs import Shuffle
from trax_compat.data.inputs import add_loss_weights
from trax_compat.data.inputs import batch
from trax_compat.data.inputs import bucket_by_length
from trax_compat.data.inputs import filter_by_length
from trax_compat.data.inputs import pad_to_max_dims
from trax_compat.data.inputs import shuffle

from trax_compat import missing as _missing  # noqa: E402

# A Trax name not here yet (or a Trax submodule not imported yet).
__getattr__ = _missing.module_getattr(__name__)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.data')
