"""`tui-cnn train MODULE:ATTR --input C,H,W`: a user's own nn.Module, from a file in the
working directory (written here: the app has never seen it), trains as a spec does, headless
and detached; the run keeps its source; bad modules are refused in one line before any
training; resume trains the kept copy and says the original changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tui_cnn.domain.model_source import ModuleSource, source_from_dict, source_to_dict
from tui_cnn.domain.run_events import LogMessage
from tui_cnn.domain.run_files import read_events, read_run_config, read_test_accuracy
from tui_cnn.domain.run_list import run_row

SKIP_NET = '''
import torch.nn.functional as F
from torch import nn


class SkipNet(nn.Module):
    """A small CNN with a skip connection and a forward of its own."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.head = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 2)
        x = F.max_pool2d(F.relu(x + self.block(x)), 2)
        return self.head(x.flatten(1))


class TenWay(SkipNet):
    pass


class Flat784(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(784, 3)

    def forward(self, x):
        return self.head(x.view(x.shape[0], 784))
'''
EPOCHS, BATCH = 3, 32


def tui_cnn(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real command, in the user's directory (where their module is)."""
    return subprocess.run(
        [sys.executable, "-m", "tui_cnn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def user_dir(tmp_path) -> Path:
    (tmp_path / "skipnet.py").write_text(SKIP_NET)
    return tmp_path


def plain_torch_accuracy(mnist_root: Path) -> float:
    """The same model, data, optimizer and epochs in a plain PyTorch loop."""
    import torch
    import torch.nn.functional as F
    from torchvision import datasets, transforms

    namespace: dict = {}
    exec(SKIP_NET, namespace)
    torch.manual_seed(0)
    model = namespace["SkipNet"]()
    to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(str(mnist_root), train=True, transform=to_tensor)
    test = datasets.MNIST(str(mnist_root), train=False, transform=to_tensor)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(EPOCHS):
        for images, labels in torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True):
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        images, labels = next(iter(torch.utils.data.DataLoader(test, batch_size=len(test))))
        return (model(images).argmax(1) == labels).float().mean().item()


def train_args(data_dir: Path, run_dir: Path, *more: str) -> list[str]:
    return [
        "train",
        "skipnet:SkipNet",
        "--input",
        "1,28,28",
        "--dataset",
        "mnist",
        "--data-dir",
        str(data_dir),
        "--epochs",
        str(EPOCHS),
        "-b",
        str(BATCH),
        "--device",
        "cpu",
        "--run-dir",
        str(run_dir),
        *more,
    ]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_module_file_trains_headless_and_detached_as_well_as_a_plain_torch_loop(user_dir, mnist_root):
    headless = tui_cnn(user_dir, *train_args(mnist_root, user_dir / "runs/headless", "--headless"))
    assert headless.returncode == 0, headless.stderr
    detached = tui_cnn(user_dir, *train_args(mnist_root, user_dir / "runs/detached", "--detach"))
    assert detached.returncode == 0, detached.stderr
    wait_until(
        lambda: run_row(user_dir / "runs/detached").status not in ("running", "starting"),
        timeout=300,
        what="the detached run to end",
    )
    reference = plain_torch_accuracy(mnist_root)
    for name in ("headless", "detached"):
        run_dir = user_dir / "runs" / name
        assert run_row(run_dir).status == "finished", (run_dir / "output.log").read_text() if name == "detached" else ""
        accuracy = read_test_accuracy(run_dir)
        assert accuracy >= reference - 0.15, (name, accuracy, reference)
        config = read_run_config(run_dir)
        assert config.model_name == "SkipNet" and config.module.target == "skipnet:SkipNet"
        [kept] = config.module.files
        assert kept.path == "skipnet.py" and Path(kept.origin) == (user_dir / "skipnet.py").resolve()
        assert (run_dir / "source" / "skipnet.py").read_text() == SKIP_NET
        assert not (run_dir / "model.py").exists()  # a module's code is its kept source
    compared = tui_cnn(user_dir, "compare", str(user_dir / "runs/headless"), str(user_dir / "runs/detached"), "--json")
    assert compared.returncode == 0, compared.stderr
    assert "SkipNet" in compared.stdout and "5,178" in compared.stdout  # its parameters, from its RunStarted


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    "target, shape, said",
    [
        (
            "skipnet:TenWay",
            "1,28,28",
            "TenWay gives 10 outputs; the folder {folder} has 3 classes: make its last layer give 3",
        ),
        ("skipnet:Flat784", "1,32,32", "Flat784 refuses a 1x32x32 input: RuntimeError: shape '[1, 784]' is invalid"),
        ("skipnet:Missing", "1,28,28", "skipnet has no attribute 'Missing'"),
    ],
)
def test_a_module_that_cannot_train_on_the_data_is_refused_in_one_line(user_dir, digit_folder, target, shape, said):
    result = tui_cnn(
        user_dir,
        "train",
        target,
        "--input",
        shape,
        "--dataset",
        "folder",
        "--data-dir",
        str(digit_folder),
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--run-dir",
        str(user_dir / "run"),
        "--headless",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("tui-cnn: training failed: " + said.format(folder=digit_folder)), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (user_dir / "run" / "checkpoint-last.pt").exists()


@pytest.mark.slow
@pytest.mark.heavy  # two runs of a module; the kept copy itself is checked in the default run
@pytest.mark.timeout(400)
def test_resume_trains_the_kept_copy_and_says_the_original_changed(user_dir, mnist_root):
    run_dir = user_dir / "run"
    first = tui_cnn(user_dir, *train_args(mnist_root, run_dir, "--headless", "--epochs", "1"))
    assert first.returncode == 0, first.stderr
    # The original now builds another model (and says so when imported): the run must not see it.
    (user_dir / "skipnet.py").write_text("raise SystemExit('the edited file was imported')\n")
    resumed = tui_cnn(user_dir, "train", "--resume", str(run_dir), "--epochs", "2", "--headless")
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"{(user_dir / 'skipnet.py').resolve()} changed since this run kept its copy" in resumed.stdout + resumed.stderr
    )
    notes = [e.message for e in read_events(run_dir) if isinstance(e, LogMessage)]
    assert any("changed since this run kept its copy" in note for note in notes)
    assert run_row(run_dir).status == "finished" and (run_dir / "source" / "skipnet.py").read_text() == SKIP_NET


def test_a_module_run_names_its_model_in_the_request_and_config_as_one_record():
    source = ModuleSource("pkg.models:Net", (3, 32, 32))
    data = json.loads(json.dumps(source_to_dict(source)))
    assert source_from_dict(data) == source
    assert data["spec"]["model"] == {"name": "Net", "input_shape": [3, 32, 32]}  # readers wanting a spec get one


def test_export_says_a_module_run_has_its_kept_source_and_no_spec(tmp_path):
    from click.testing import CliRunner

    from tui_cnn.cli import main

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = {**source_to_dict(ModuleSource("skipnet:SkipNet", (1, 28, 28))), "config": {"dataset": "mnist"}}
    (run_dir / "config.json").write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["export", str(run_dir)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"tui-cnn: {run_dir} trained your own module skipnet:SkipNet: its code is the "
        f"run's kept source ({run_dir / 'source'}), there is no spec to export"
    )


def test_continuing_a_module_run_names_its_module_and_kept_files(tmp_path):
    """What --resume and the Runs screen's continue start: the run's module with its kept files."""
    from tui_cnn.domain.model_source import SourceFile
    from tui_cnn.domain.run_list import continuation

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    kept = ModuleSource("skipnet:SkipNet", (1, 28, 28), (SourceFile("skipnet.py", "/home/me/skipnet.py", "ab12"),))
    (run_dir / "config.json").write_text(json.dumps({**source_to_dict(kept), "config": {"dataset": "mnist"}}))
    source, config = continuation(run_dir, epochs=5)
    assert source == kept and config.resume == str(run_dir) and config.epochs == 5
