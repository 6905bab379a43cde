"""The claims lab (issue 16): each empirical claim of the study notes as a controlled experiment, run through the
training engine over several seeds and judged by rule. No gradio here.

- `spec`: `ClaimSpec` (a claim as data: variants, metric, expected relation, seeds, budget) and `Overrides`;
- `claims`: ``CLAIMS``, the notes' claims (those that need a model option that does not exist yet say so in
  ``needs``);
- `runner`: `run_claim` (every variant x seed, resumable) over `cvdemo.training.engine.Trainer`;
- `shared_training`: variants that differ only in evaluation options, trained once and evaluated as each;
- `run_records`: the runner's JSON-lines log of finished runs;
- `statistics`: mean +/- sample std per variant, Welch 95 % intervals of differences, `verdict`;
- `results`: the shipped ``experiments/results/<claim>.json`` documents.

The command line is ``python -m training.run_claims`` (``--help``).
"""

from cvdemo.experiments.claims import CLAIMS, runnable_claims
from cvdemo.experiments.results import (
    claim_document,
    read_claim_results,
    recomputed_verdict,
    results_path,
    write_claim_results,
)
from cvdemo.experiments.run_records import RunRecord, read_records, runs_path
from cvdemo.experiments.runner import hardware, prepare_run, run_claim, train_one, train_variants
from cvdemo.experiments.shared_training import training_groups
from cvdemo.experiments.spec import ClaimNeedsOptionError, ClaimSpec, Overrides
from cvdemo.experiments.statistics import (
    VERDICTS,
    Difference,
    VariantSummary,
    VerdictRule,
    compare,
    summarize,
    verdict,
    welch_interval,
)

__all__ = [
    "CLAIMS", "VERDICTS", "ClaimNeedsOptionError", "ClaimSpec", "Difference", "Overrides", "RunRecord",
    "VariantSummary", "VerdictRule", "claim_document", "compare", "hardware", "prepare_run", "read_claim_results",
    "read_records", "recomputed_verdict", "results_path", "run_claim", "runnable_claims", "runs_path", "summarize",
    "train_one", "train_variants", "training_groups", "verdict", "welch_interval", "write_claim_results",
]
