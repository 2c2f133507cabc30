"""Training the Section 2 model in PyTorch (the optional ``[train]`` extra).

``loop`` holds the PyTorch model, the training loop and the export to the
Nematus ``.npz`` format that ``nmt8.load_model`` reads. Importing this
package does not import PyTorch; the functions that need it do.

Does not: decode with beam search (``nmt8.translator``).
"""

from .loop import (
    TrainConfig,
    build_model,
    export,
    greedy_bleu,
    main,
    make_optimizer,
    set_lr,
    train,
    write_golden,
)

__all__ = [
    "TrainConfig",
    "build_model",
    "export",
    "greedy_bleu",
    "main",
    "make_optimizer",
    "set_lr",
    "train",
    "write_golden",
]
