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

from trax_compat.data.tf_inputs import BertNextSentencePredictionInputs
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
