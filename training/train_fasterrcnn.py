"""Train a Faster R-CNN detector (torchvision's): ``python -m training.train_fasterrcnn --preset tiny``
(see ``--help``).

Generated shapes by default, or a COCO folder (``--train DIR --val DIR``). The options and outputs are those of
``training.train_detr``, described in `cvdemo.training.cli`.
"""

import sys

from cvdemo.training.cli import run

if __name__ == "__main__":
    sys.exit(run("fasterrcnn"))
