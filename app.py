"""cvdemo's web app. Run `python app.py` and open http://127.0.0.1:7860.

The app tabs (Detect, Attention, Matching, Train, Evaluate) are built in later steps; until then this page
says what the `cvdemo` library already offers. Honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.
"""

from __future__ import annotations

import os

import gradio as gr

import cvdemo

INTRO = f"""
# cvdemo {cvdemo.__version__}: see inside DETR and ViT

The interactive tabs are under construction. The `cvdemo` library already provides:

- **DETR** (ResNet-18/34/50/101 backbones, sine or learned position encodings) with every encoder
  self-attention and decoder cross-attention map on request, numerically identical to transformers' DETR;
- **ViT / DeiT** with per-layer attention and **attention rollout**;
- loading of transformers, timm and original DETR checkpoints into one strict, safetensors-only format.

See the README's *Python API* section.
"""


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cvdemo") as demo:
        gr.Markdown(INTRO)
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(default_concurrency_limit=1, max_size=16).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size="20mb",
        enable_monitoring=False,
    )
