"""What a dataset holds, for the Data screen: images per class in each split, a few training
images of each class, and the same images after the run's augmentation (drawn again with a
new seed on request). Runs in the app's thread worker; hands back numpy arrays and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..domain.train_config import TrainConfig


@dataclass(frozen=True)
class DataPreview:
    title: str
    source: str  # how a folder was read ("" for the built-in datasets)
    classes: tuple[str, ...]
    train_counts: list[int]
    test_counts: list[int]
    samples: list[np.ndarray]  # per class: uint8 (K, C, H, W), K <= per_class
    augmentation: str  # what augmenting does to these images, in words
    flips: bool  # augmenting mirrors images too (datasets whose mirrored images keep their class)

    def augmented(self, seed: int) -> list[np.ndarray]:
        """The samples after the run's augmentation, drawn with ``seed``."""
        import torch

        from .data import MAX_SHIFT, random_translate

        generator = torch.Generator().manual_seed(seed)
        out = []
        for images in self.samples:
            batch = random_translate(torch.from_numpy(images), MAX_SHIFT, generator)
            if self.flips:
                flip = torch.rand(len(batch), generator=generator) < 0.5
                batch = torch.where(flip.view(-1, 1, 1, 1), batch.flip(3), batch)
            out.append(batch.numpy())
        return out


def preview(config: TrainConfig, input_shape: tuple[int, int, int], per_class: int = 12) -> DataPreview:
    """Read ``config``'s dataset on the CPU (a folder decoded, or read from its cache) and pick
    the first ``per_class`` training images of each class. MissingDataError says why not."""
    import torch

    from .data import MAX_SHIFT, load_data

    data = load_data(config.dataset, config.data_dir, "cpu", input_shape=input_shape, resize=config.resize)
    classes = data.info.classes
    labels = data.train.labels
    samples = []
    for label in range(len(classes)):
        index = (labels == label).nonzero().flatten()[:per_class]
        samples.append(data.train.images[index].numpy())
    counts = [torch.bincount(split.labels, minlength=len(classes)).tolist() for split in (data.train, data.test)]
    flips = " and mirrored half the time" if data.info.flips else ""
    return DataPreview(
        data.info.title,
        data.source,
        tuple(classes),
        counts[0],
        counts[1],
        samples,
        f"each image shifted by up to {MAX_SHIFT} pixels each way{flips}",
        data.info.flips,
    )
