from absl import app

from train.deep_ngram_flax import main

app.run(main.main)
