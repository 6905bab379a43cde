"""cvdemo: see inside DETR and ViT.

The core library behind the cvdemo app. It never imports gradio: models
(`cvdemo.models`), box geometry (`cvdemo.boxes`), attention rollout
(`cvdemo.attention`), matching and losses, evaluation and data sets.
"""

__version__ = "0.1.0"
