"""Temporary re-export while the tabs move to `cvdemo.ui.models` (issue 12)."""

from cvdemo.ui.models import call_model  # noqa: F401
