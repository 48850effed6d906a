from absl import app

from train.fashion_mnist_flax import main

app.run(main.main)
