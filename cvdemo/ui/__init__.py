"""The Gradio app's tabs and the gradio-free helpers behind them.

Tabs (import gradio): `detect_tab`, `attention_tab`, `concepts_tab`, with `uploads` (files -> pixels or
gr.Error), `model_calls` (loading messages, errors) and `zerogpu` (optional `spaces.GPU`).
No gradio: `models_registry` (the shared, lazily loaded models), `detection_session` and `vit_session` (one
model run kept per browser session, and the views derived from it), `detection_figures` and
`concept_figures` (Plotly), `choices` (layer/head dropdown entries). Importing this package imports nothing.
"""
