"""Search over the model of Section 2: beam search, where the k
hypotheses of a sentence make the narrow matrix of Section 3.

- ``beam``: the loop (one sentence, a batch of sentences, ensembles);
- ``sentence``: one sentence's hypotheses and the checks of the settings;
- ``select``: the choice of the best extensions (C, or its numpy reference);
- ``batch``: several sentences at once, the paper's future work.

Does not: read or write text (``nmt8.serve``).
"""
