"""The record of a run: typed, versioned models of the files that say what a run is and
what it produced, and the one place they are read and written.

- :mod:`zoo.record.run`: ``run.json`` (:class:`RunRecord`);
- :mod:`zoo.record.results`: ``metrics.json`` (:class:`Results`, :class:`WeightsRecord`:
  which weights the run keeps);
- :mod:`zoo.record.manifest`: an export's ``manifest.json`` (:class:`ExportManifest`);
- :mod:`zoo.record.history`: ``history.csv``;
- :mod:`zoo.record.folder`: run folders, their lock and honest status, ``zoo runs``;
- :mod:`zoo.record.writing`: atomic writes, fault hooks, a full disk as one line;
- :mod:`zoo.record.files`: bounded, regular-file-only reading with located errors.

No TensorFlow here: ``zoo runs`` and ``zoo runs --compare`` read records without it.
"""

from zoo.record.files import RecordError
from zoo.record.manifest import ExportManifest, read_manifest
from zoo.record.results import EpochWeights, Results, WeightsRecord, read_results
from zoo.record.run import RunRecord, read_run_record

__all__ = [
    "EpochWeights",
    "ExportManifest",
    "RecordError",
    "Results",
    "RunRecord",
    "WeightsRecord",
    "read_manifest",
    "read_results",
    "read_run_record",
]
