"""Temporary re-exports while the tabs move to `cvdemo.models.registry` and `cvdemo.ui.models` (issue 12)."""

from cvdemo.models.registry import (  # noqa: F401
    CHECKPOINTS, ModelRegistry, ModelSpec, ModelUnavailableError, default_device)
from cvdemo.ui.models import default_model_specs, model_note, shipped_quality  # noqa: F401
