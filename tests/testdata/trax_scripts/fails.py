"""A Trax script with a bug of its own: its traceback is what should show."""

from trax import layers as tl


def build():
  return tl.Dense(n_units='three')


def broken():
  raise ValueError('the script itself is wrong')


build()
broken()
