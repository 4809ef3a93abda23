"""A run's phases: ``training.epochs`` first, then each fine-tuning phase of
``training.phases`` (its own epochs, learning rate and layers to unfreeze)."""

from __future__ import annotations

from dataclasses import dataclass

from zoo.spec.sections import TrainingSpec


@dataclass(frozen=True)
class Phase:
    """One ``model.fit`` call: phase 0 is ``training.epochs``; then ``training.phases``."""

    index: int
    epochs: int
    learning_rate: float
    unfreeze: int | str | None


def phases_of(training: TrainingSpec) -> list[Phase]:
    out = [Phase(0, training.epochs, training.optimizer.learning_rate, None)]
    for i, p in enumerate(training.phases, start=1):
        out.append(Phase(i, p.epochs, p.learning_rate, p.unfreeze))
    return out
