"""The parts of Trax's research models (``trax.models.research``) that
trax_compat has: the Terraformer and the layers it joins the encoder and
decoder with, and BERT (``bert``). Their public names are exported by ``trax_compat.models``."""
