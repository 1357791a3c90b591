"""Where figures go: the machine they came from, a rich table, and a JSON file."""

from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tui_cnn.domain.specfile import atomic_write_text

from .harness import Figure, show

RESULTS_DIR = Path(__file__).parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: str) -> dict[str, Any]:
    """The hardware and software the figures came from (no host name: results are shared)."""
    import torch

    info: dict[str, Any] = {
        "device": device,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": f"{platform.system()} {platform.release()}",
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def machine_name(machine: dict[str, Any]) -> str:
    """``cpu-2core`` or ``cuda-nvidia-h100-80gb-hbm3``: the results file's name."""
    if machine["device"] == "cuda":
        return "cuda-" + re.sub(r"[^a-z0-9]+", "-", machine["gpu"].lower()).strip("-")
    return f"cpu-{machine['cores']}core"


def print_table(
    console: Console, figures: list[Figure], skipped: dict[str, str], errors: dict[str, str], quick: bool = False
) -> None:
    """The figures against their targets; a quick run (CI) judges none: its runs are too few and too
    short to say whether a target is met."""
    table = Table(title="tui-cnn benchmarks" + (" (quick: targets not judged)" if quick else ""), title_justify="left")
    for column, justify in (
        ("benchmark", "left"),
        ("figure", "left"),
        ("value", "right"),
        ("target", "right"),
        ("", "center"),
        ("how", "left"),
    ):
        table.add_column(column, justify=justify)
    for figure in figures:
        met = "" if quick else {True: "[green]met[/]", False: "[red]missed[/]", None: ""}[figure.met]
        target = show(float(figure.target.split()[1]), figure.unit) if figure.target else ""
        target = f"{figure.target.split()[0]} {target}" if target else ""
        table.add_row(figure.benchmark, figure.name, show(figure.value, figure.unit), target, met, figure.how)
    for name, reason in skipped.items():
        table.add_row(name, "[dim]skipped[/]", "", "", "", reason)
    for name, reason in errors.items():
        table.add_row(name, "[red]failed[/]", "", "", "", reason)
    console.print(table)


def write_results(
    path: Path,
    machine: dict[str, Any],
    command: str,
    quick: bool,
    figures: list[Figure],
    skipped: dict[str, str],
    failed: dict[str, str],
    ran: list[str],
    all_ran: bool,
) -> None:
    """Write the results file. A run of some benchmarks (--only) replaces their entries in
    an existing file and keeps the others', each figure stamped with the command it came from."""
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() and not all_ran else {}
    kept = [f for f in previous.get("figures", []) if f["benchmark"] not in ran]
    document = {
        "machine": machine,
        "quick": quick,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "figures": kept + [{**figure.to_json(), "command": command} for figure in figures],
        "skipped": {**_others(previous.get("skipped", {}), ran), **skipped},
        "failed": {**_others(previous.get("failed", {}), ran), **failed},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _others(entries: dict[str, str], ran: list[str]) -> dict[str, str]:
    return {name: reason for name, reason in entries.items() if name not in ran}
