from absl import app

from train.imdb_flax import main

app.run(main.main)
