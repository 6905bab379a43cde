"""The Gradio app's tabs: layout, wiring and thin handlers over the `cvdemo` core (nothing here imports torch).

Each tab is `<name>_tab.py` (``layout()`` makes the components, module-level handlers answer the events, ``wire()``
connects them; ``build_<name>_tab`` calls the two) with one module that composes what it shows: `detect_views`,
`detectors_views`, `attention_views`, `matching_views` (with `matching_figures`), `evaluation_viewer`,
`training_view`, `concept_figures`; the Evaluate tab's comparison of two prediction sets is `evaluate_compare` (with
`evaluate_compare_views`). Shared: `models` (the model list, notes, running a registry model), `uploads` (files ->
pixels or a readable error), `errors` (`answers`: every handler's failure becomes a readable message), `validate`
(API values against the controls' limits), `sessions` (bounded per-session results, clean-up when a session ends),
`binding` (handlers with fixed arguments that Gradio still reads), `gradio_cache` (atomic output writes), `choices`,
`i18n` and `texts/` (English and Chinese), `zerogpu`. Importing this package imports nothing.
"""
