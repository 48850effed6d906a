"""Which of Trax's configs the tests run for a few steps, and how; shared by
``tests/test_gin_configs.py`` and ``generate_gin_configs.py`` (the status
page ``docs/gin_configs.md``)."""

# config -> what the tests run (shown on the status page).
RUN_IN_TESTS = {
    "gru_copy.gin": "copy task, logs equal to Trax's "
                    "(`tests/test_gin_trainer_oracle.py`)",
    "reformer_copy.gin": "with `train.model = @trax.models.TransformerLM` "
                         "on the addition task, logs equal to Trax's "
                         "(`tests/test_gin_configs.py`)",
    "mlp_mnist.gin": "on a tiny local `mnist` stand-in "
                     "(`tests/test_gin_configs.py`)",
}

# Sizes for mlp_mnist.gin on the tiny stand-in: a handful of steps.
MLP_MNIST_BINDINGS = [
    "batcher.batch_size_per_device = 8", "batcher.eval_batch_size = 8",
    "MLP.layer_widths = (16,)", "train.steps = 6",
    "train.eval_frequency = 3", "train.eval_steps = 2",
    "train.random_seed = 0", "lr_schedules.constant.value = 0.01",
    "data_streams.shuffle_buffer_size = 8"]
