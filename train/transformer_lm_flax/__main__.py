from absl import app

from train.transformer_lm_flax import main

app.run(main.main)
