from absl import app

from train.nmt_flax import main

app.run(main.main)
