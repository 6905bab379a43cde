"""The shipped faithfulness table (`examples/explain-faithfulness.json`) as Markdown, for the Attention and Detect
tabs' "Explain" sections: which method points at the object and which survives the deletion test, on the shipped
model, with the verdict read from the numbers (never written by hand)."""

from __future__ import annotations

from pathlib import Path

from cvdemo.explain.evaluation import read_faithfulness_table
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.explain import T

__all__ = ["faithfulness_markdown"]


def _interval(stat: dict) -> str:
    return f"{stat['mean']:.3f} [{stat['low']:.3f}, {stat['high']:.3f}]"


def faithfulness_markdown(table_path: str | Path, model: str, current: str | None = None,
                          locale: str = DEFAULT_LOCALE) -> str:
    """Markdown for `model`'s entry of the table at `table_path` (a note when `current` is another model)."""
    entry = read_faithfulness_table(table_path).get(model)
    if entry is None:
        return T.text("no_table", locale, model=model)
    methods = entry["methods"]

    def name(method: str) -> str:
        return T.text(f"m_{method}", locale) if f"m_{method}" in T.texts else method

    lines = [T.text("table_heading", locale, model=model, objects=entry["objects"], images=entry["images"],
                    steps=entry["steps"]), "",
             "| " + " | ".join(T.text(k, locale) for k in ("col_method", "col_pointing", "col_deletion",
                                                          "col_insertion", "col_minus_random")) + " |",
             "|---|---|---|---|---|"]
    for method, row in methods.items():
        diff = _interval(row["deletion_minus_random"]) if "deletion_minus_random" in row else "—"
        lines.append(f"| {name(method)} | {_interval(row['pointing'])} | {_interval(row['deletion_auc'])} | "
                     f"{_interval(row['insertion_auc'])} | {diff} |")
    real = {m: r for m, r in methods.items() if m != "random"}
    best_deletion = min(real, key=lambda m: real[m]["deletion_auc"]["mean"])
    best_pointing = max(real, key=lambda m: real[m]["pointing"]["mean"])
    lines += ["", T.text("best", locale, deletion=name(best_deletion), pointing=name(best_pointing))]
    if "relevance" in real and best_deletion != "relevance":
        lines.append("\n" + T.text("paper_disagrees", locale, best=name(best_deletion)))
    for method, row in real.items():
        if row.get("deletion_minus_random", {}).get("high", -1.0) >= 0:
            lines.append("\n" + T.text("not_better", locale, method=name(method)))
    if current is not None and current != model:
        lines.append("\n" + T.text("other_model", locale, model=model, current=current))
    return "\n".join(lines)
