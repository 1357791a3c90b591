"""Which dataset a run trains on when none is named: the one that fits the model's input shape."""

from tui_cnn.domain.datasets import default_dataset, training_images


def test_a_colour_32x32_model_defaults_to_cifar10_and_a_digit_model_to_mnist(tmp_path):
    name, why = default_dataset(tmp_path, (3, 32, 32))
    assert name == "cifar10" and "3x32x32" in why
    assert default_dataset(tmp_path, (1, 28, 28))[0] == "mnist-sample"  # no full MNIST in an empty folder
    assert default_dataset(tmp_path)[0] == "mnist-sample"


def test_the_training_images_are_the_split_less_its_validation_hold_out():
    assert training_images("mnist-sample", 0.1) == 3_600
    assert training_images("cifar10", 0) == 50_000
    assert training_images("folder", 0.1) is None
