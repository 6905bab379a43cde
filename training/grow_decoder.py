"""Give a trained DETR more decoder layers, as the start of a longer training (``--init`` the result):

    python -m training.grow_decoder --from checkpoints/detr-shapes --decoder-layers 6 --out runs/detr-6dec-init

Why: detr-shapes' two decoder layers leave ~31 % duplicate boxes per object at score >= 0.5
(`benchmarks/bench_duplicates.py`; its first layer 33 %, class-wise NMS removes nearly all of them): a query learns
to suppress another's duplicate through the decoder's self-attention, layer after layer, and DETR's paper (§4.2,
Fig. 4) finds NMS useless only after several layers. Every weight of the source is kept; the new layers start as
copies of its last decoder layer (so each new layer starts from a layer that already reads the image), and the
auxiliary losses train every layer from the first step.
"""

from __future__ import annotations

import argparse
import copy
import logging
from pathlib import Path

import cvdemo.models
from cvdemo.models.detr import DETR, DETRConfig
from cvdemo.models.loading import CheckpointError

log = logging.getLogger(__name__)


def grow_decoder(source: DETR, decoder_layers: int) -> DETR:
    """A DETR like ``source`` with ``decoder_layers`` (>= its own) decoder layers: its weights, the new layers
    copies of its last decoder layer."""
    have = source.config.decoder_layers
    if decoder_layers < have:
        raise ValueError(f"the model has {have} decoder layers already; ask for at least that many")
    config = DETRConfig.from_dict({**source.config.to_dict(), "decoder_layers": decoder_layers})
    model = DETR(config)
    state = dict(source.state_dict())
    prefix = next(k for k in state if ".decoder.layers.0." in k).split(".decoder.layers.0.")[0]
    last = f"{prefix}.decoder.layers.{have - 1}."
    for layer in range(have, decoder_layers):
        for key in [k for k in source.state_dict() if k.startswith(last)]:
            state[key.replace(last, f"{prefix}.decoder.layers.{layer}.")] = copy.deepcopy(state[key])
    model.load_state_dict(state, strict=True)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="the trained DETR (a folder)")
    parser.add_argument("--decoder-layers", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    source = cvdemo.models.load(args.source)
    if not isinstance(source, DETR):
        raise CheckpointError(f"{args.source} is not a DETR")
    cvdemo.models.save(grow_decoder(source, args.decoder_layers), args.out)
    log.info("%s: %d -> %d decoder layers, saved to %s", args.source, source.config.decoder_layers,
             args.decoder_layers, args.out)


if __name__ == "__main__":
    main()
