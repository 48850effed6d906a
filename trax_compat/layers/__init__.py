"""Trax-compatible layers; each computes through a Flax Linen module."""

from trax_compat.layers.base import EMPTY_STATE
from trax_compat.layers.base import EMPTY_WEIGHTS
from trax_compat.layers.base import Layer
from trax_compat.layers.base import LayerError
from trax_compat.layers.combinators import Serial
from trax_compat.layers.core import Dense
from trax_compat.layers.core import Embedding
from trax_compat.layers.core import LogSoftmax
from trax_compat.layers.core import Mean
from trax_compat.layers.core import log_softmax
from trax_compat.layers.core import one_hot
from trax_compat.layers.flax_adapter import FlaxModule
from trax_compat.layers.functional import Fn
from trax_compat.layers.initializers import GlorotUniformInitializer
from trax_compat.layers.initializers import RandomNormalInitializer
from trax_compat.layers.initializers import RandomUniformInitializer
from trax_compat.layers.initializers import ScaledInitializer
from trax_compat.layers.metrics import CategoryAccuracy
from trax_compat.layers.metrics import CategoryCrossEntropy
from trax_compat.layers.metrics import WeightedCategoryAccuracy
from trax_compat.layers.metrics import WeightedCategoryCrossEntropy
