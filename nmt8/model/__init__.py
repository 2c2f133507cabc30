"""Section 2 of Quinn & Ballesteros (2018): the attentional GRU model, in
numpy, with Nematus parameter names.

- ``config`` (the options dataclass, the vocabulary's fixed ids),
  ``params`` (names, shapes, the checked reading of a model file);
- ``gru``, ``attention`` (eq. (5)-(6)), ``encoder`` (eq. (1)),
  ``decoder`` (one step, eq. (2)-(6)), ``embedding``;
- ``ops`` (``linear``, the one product function, and the elementwise
  functions), ``products`` (a weight type per precision, bound to its
  kernel), ``precision`` and ``weights`` (building them);
- ``model``: ``Model``, the weights in one precision; ``load_model``,
  ``random_model``.

Does not: search (``nmt8.search``) or read text (``nmt8.serve``).
"""
