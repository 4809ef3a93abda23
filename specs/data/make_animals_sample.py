"""Writes specs/data/animals/: a tiny synthetic stand-in for the animals photo data set.

Ten class folders named as in that data set (Italian names, translated by
animals_labels.yaml), eight 32x32 PNGs each: a coloured shape per class on a noisy background,
so the folder specs run offline and a model can learn something in one epoch. Replace
``data.params.path`` with a real folder of class sub-folders to train on real photos.
Run: python specs/data/make_animals_sample.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ["cane", "cavallo", "elefante", "farfalla", "gallina", "gatto", "mucca", "pecora",
           "ragno", "scoiattolo"]
PER_CLASS, SIDE = 8, 32


def draw(index: int, rng: np.random.Generator) -> np.ndarray:
    image = rng.integers(0, 60, (SIDE, SIDE, 3), dtype=np.uint8)
    hue = np.uint8(index * 18)
    colour = cv2.cvtColor(np.array([[[hue, 220, 230]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    centre = (int(rng.integers(10, 22)), int(rng.integers(10, 22)))
    if index % 2:
        cv2.circle(image, centre, 6 + index % 4, colour.tolist(), -1)
    else:
        cv2.rectangle(image, (centre[0] - 6, centre[1] - 6), (centre[0] + 6, centre[1] + 6),
                      colour.tolist(), -1)
    return image


def main() -> None:
    root = Path(__file__).parent / "animals"
    rng = np.random.default_rng(124)
    for index, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(PER_CLASS):
            cv2.imwrite(str(folder / f"{name}{n}.png"), draw(index, rng))


if __name__ == "__main__":
    main()
