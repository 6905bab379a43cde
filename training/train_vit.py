"""Train a ViT classifier: ``python -m training.train_vit --preset tiny`` (see ``--help``).

Generated one-shape images by default, or a COCO folder with one object per image (``--train DIR``);
multi-GPU with ``torchrun --nproc_per_node N -m training.train_vit ...``. The options and outputs are
described in `cvdemo.training.cli`.
"""

import sys

from cvdemo.training.cli import run

if __name__ == "__main__":
    sys.exit(run("vit"))
