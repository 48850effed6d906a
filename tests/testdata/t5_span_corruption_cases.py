"""Inputs shared by ``generate_t5_span_corruption.py`` (run with real T5)
and ``tests/test_t5_span_corruption.py``."""

# c4.gin's span-corruption bindings, with its lengths and noise as
# parameters (c4.gin: max_length 512, noise_density 0.15, mean span 3.0).
C4_GIN = """
import t5.data.preprocessors
unsupervised.preprocessors = [@preprocessors.select_random_chunk,
                              @preprocessors.split_tokens,
                              @preprocessors.denoise]
select_random_chunk.feature_key = 'targets'
select_random_chunk.max_length = %(max_length)d
random_spans_helper.extra_tokens_per_span_inputs = 1
random_spans_helper.extra_tokens_per_span_targets = 1
random_spans_helper.inputs_length = %(max_length)d
random_spans_helper.mean_noise_span_length = %(mean)r
random_spans_helper.noise_density = %(density)r
split_tokens.feature_key = 'targets'
split_tokens.max_tokens_per_segment = \\
    @preprocessors.random_spans_tokens_length()
split_tokens.min_tokens_per_segment = None
denoise.inputs_fn = @preprocessors.noise_span_to_unique_sentinel
denoise.noise_density = %(density)r
denoise.noise_mask_fn = @preprocessors.random_spans_noise_mask
denoise.targets_fn = @preprocessors.nonnoise_span_to_unique_sentinel
"""
