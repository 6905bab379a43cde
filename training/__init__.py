"""Training command lines over `cvdemo.training`: ``python -m training.train_detr`` and
``python -m training.train_vit`` (``--help`` for the options, ``--preset tiny|small``)."""
