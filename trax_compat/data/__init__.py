"""Trax-compatible data pipelines: tokenization, shuffling, bucketing."""

from trax_compat.data.debug_data_pipeline import debug_pipeline
from trax_compat.data.text_tokenize import Tokenize
from trax_compat.data.text_tokenize import detokenize
from trax_compat.data.text_tokenize import tokenize
from trax_compat.data.text_tokenize import vocab_size
from trax_compat.data.inputs import add_loss_weights
from trax_compat.data.inputs import addition_inputs
from trax_compat.data.inputs import AddLossWeights
from trax_compat.data.inputs import AppendValue
from trax_compat.data.inputs import Batch
from trax_compat.data.inputs import batch
from trax_compat.data.inputs import bucket_by_length
from trax_compat.data.inputs import BucketByLength
from trax_compat.data.inputs import CastTo
from trax_compat.data.inputs import ConcatenateToLMInput
from trax_compat.data.inputs import consume_noise_mask
from trax_compat.data.inputs import CountAndSkip
from trax_compat.data.inputs import Dup
from trax_compat.data.inputs import filter_by_length
from trax_compat.data.inputs import FilterByLength
from trax_compat.data.inputs import FilterEmptyExamples
from trax_compat.data.inputs import generate_random_noise_mask
from trax_compat.data.inputs import generate_sequential_chunks
from trax_compat.data.inputs import Log
from trax_compat.data.inputs import MLM
from trax_compat.data.inputs import pad_to_max_dims
from trax_compat.data.inputs import PadToLength
from trax_compat.data.inputs import Parallel
from trax_compat.data.inputs import Prefetch
from trax_compat.data.inputs import PrefixLM
from trax_compat.data.inputs import random_spans_noise_mask
from trax_compat.data.inputs import sequence_copy_inputs
from trax_compat.data.inputs import Serial
from trax_compat.data.inputs import Shuffle
from trax_compat.data.inputs import shuffle
from trax_compat.data.inputs import simple_sequence_copy_inputs
from trax_compat.data.inputs import sine_inputs
from trax_compat.data.inputs import TruncateToLength
from trax_compat.data.inputs import UnBatch
from trax_compat.data.inputs import UniformlySeek
# Trax's submodules of the same names.
from trax_compat.data import debug_data_pipeline  # noqa: E402
from trax_compat.data import inputs  # noqa: E402
from trax_compat.data import text_encoder  # noqa: E402
from trax_compat.data import tokenizer  # noqa: E402

from trax_compat.data.tf_inputs import BertGlueEvalStream
from trax_compat.data.tf_inputs import BertGlueTrainStream
from trax_compat.data.tf_inputs import BertNextSentencePredictionInputs
from trax_compat.data.tf_inputs import CreateAnnotatedDropInputs
from trax_compat.data.tf_inputs import CreateAquaInputs
from trax_compat.data.tf_inputs import CreateDropInputs
from trax_compat.data.tf_inputs import CreateMathQAInputs
from trax_compat.data.tf_inputs import T5GlueEvalStream
from trax_compat.data.tf_inputs import T5GlueEvalStreamsParallel
from trax_compat.data.tf_inputs import T5GlueEvalTasks
from trax_compat.data.tf_inputs import T5GlueTrainStream
from trax_compat.data.tf_inputs import T5GlueTrainStreamsParallel
from trax_compat.data.tf_inputs import ConvertToUnicode
from trax_compat.data.tf_inputs import CorpusToRandomChunks
from trax_compat.data.tf_inputs import CreateBertInputs
from trax_compat.data.tf_inputs import SentencePieceTokenize
from trax_compat.data.tf_inputs import TFDS
from trax_compat.data.tf_inputs import add_eos_to_output_features
from trax_compat.data.tf_inputs import cifar10_augmentation_flatten_preprocess
from trax_compat.data.tf_inputs import cifar10_augmentation_preprocess
from trax_compat.data.tf_inputs import data_streams
from trax_compat.data.tf_inputs import downsampled_imagenet_flatten_bare_preprocess
from trax_compat.data.tf_inputs import filter_dataset_on_len
from trax_compat.data.tf_inputs import lm1b_preprocess
from trax_compat.data.tf_inputs import mask_random_tokens
from trax_compat.data.tf_inputs import sentencepiece_tokenize
from trax_compat.data.tf_inputs import squeeze_targets_preprocess
from trax_compat.data.tf_inputs import truncate_dataset_on_len
from trax_compat.data.tf_inputs import wmt_concat_preprocess
from trax_compat.data.tf_inputs import wmt_preprocess

from trax_compat import missing as _missing  # noqa: E402

# A Trax name not here yet (or a Trax submodule not imported yet).
__getattr__ = _missing.module_getattr(__name__)

# Trax's gin names for what this package has (a no-op without gin).
from trax_compat import gin_registry as _gin_registry  # noqa: E402
_gin_registry.register('trax.data')
