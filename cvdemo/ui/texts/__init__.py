"""The app's text in English and Simplified Chinese: one `cvdemo.ui.i18n.Catalog` per part of the UI.

`app` (header, tab names), `common` (layer/head choices, uploads, model notes and loading messages shared by
the tabs) and one module per tab. No gradio here.
"""
