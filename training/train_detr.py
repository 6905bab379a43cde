"""Train a DETR detector: ``python -m training.train_detr --preset tiny`` (see ``--help``).

Generated shapes by default, or a COCO folder (``--train DIR --val DIR``); multi-GPU with
``torchrun --nproc_per_node N -m training.train_detr ...``. The options and outputs are described in
`cvdemo.training.cli`.
"""

import sys

from cvdemo.training.cli import run

if __name__ == "__main__":
    sys.exit(run("detr"))
