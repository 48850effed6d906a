from absl import app

from train.sentiment_flax import main

app.run(main.main)
