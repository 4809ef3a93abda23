"""The names of the files zoo itself writes in a run folder.

Kept apart from the runner (and free of TensorFlow) so that spec validation can refuse a
callback file name that would land on one of them, and the runner and ``zoo runs`` agree on
the layout. A spec may name files inside the run folder only outside these names.
"""

from __future__ import annotations

SPEC_FILE = "spec.yaml"
INFO_FILE = "run.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion_matrix.png"
ERRORS_FILE = "errors.png"
ROC_FILE = "roc.png"  # two-class runs: ROC and precision-recall curves of the test split
PR_FILE = "pr.png"
LOCK_FILE = ".lock"
DEFAULT_BACKUP_DIR = "backup"
DEFAULT_CHECKPOINT_DIR = "checkpoints"
BEST_WEIGHTS_FILE = f"{DEFAULT_CHECKPOINT_DIR}/best.weights.h5"  # the run's own best checkpoint
LAST_WEIGHTS_FILE = f"{DEFAULT_CHECKPOINT_DIR}/last.weights.h5"  # the last trained epoch's
EXPORTS_DIR = "exports"

# Files zoo owns at the top of a run folder: a spec may never write onto them.
RESERVED_FILES = frozenset(
    {
        SPEC_FILE,
        INFO_FILE,
        MODEL_FILE,
        HISTORY_FILE,
        METRICS_FILE,
        CURVES_FILE,
        CONFUSION_FILE,
        ERRORS_FILE,
        ROC_FILE,
        PR_FILE,
        LOCK_FILE,
    }
)
# Folders zoo owns: a spec may not make one of them its backup folder or write files into
# the backup folder (the backup is deleted when the run finishes).
RESERVED_DIRS = frozenset({DEFAULT_BACKUP_DIR, DEFAULT_CHECKPOINT_DIR, EXPORTS_DIR})
