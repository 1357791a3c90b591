"""``python -m benchmarks [--only NAME ...] [--device auto|cpu|cuda] [--quick] [--output PATH]``

Runs each benchmark, prints a table and writes ``benchmarks/results/<machine>.json`` (or
PATH); with --only, the other benchmarks' figures already in that file are kept. Exit status 0 when every benchmark ran or was skipped, 1 when one failed, 2 for bad
arguments. Nothing here asserts timings: the table says which targets were met.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
from pathlib import Path

from rich.console import Console

from . import BENCHMARKS
from .harness import Figure, Options, Skipped, resolve_device
from .report import RESULTS_DIR, describe_machine, machine_name, print_table, write_results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME", help=f"run only these ({', '.join(BENCHMARKS)})"
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where torch benchmarks run (default: CUDA when there is one)",
    )
    parser.add_argument("--quick", action="store_true", help="a few runs of each, under a minute (CI)")
    parser.add_argument("--output", type=Path, help="results file (default: benchmarks/results/<machine>.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:  # CI logs: wide enough that rows stay one line each
        console = Console(width=160)
    try:
        device = resolve_device(args.device)
    except Skipped as reason:
        console.print(f"[red]{reason}[/]: use --device auto or cpu")
        return 2
    options = Options(quick=args.quick, device=device)
    figures: list[Figure] = []
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    ran = args.only or list(BENCHMARKS)
    for name in ran:
        with console.status(f"benchmark: {name}"):
            try:
                figures += BENCHMARKS[name].run(options)
            except Skipped as reason:
                skipped[name] = str(reason)
            except Exception as error:  # one broken benchmark must not hide the others' figures
                failed[name] = f"{type(error).__name__}: {error}"
                console.print(f"[red]{name} failed[/]\n{traceback.format_exc()}")
    print_table(console, figures, skipped, failed, quick=args.quick)
    machine = describe_machine(device)
    output = args.output or RESULTS_DIR / f"{machine_name(machine)}.json"
    command = shlex.join(["python", "-m", "benchmarks", *argv])
    write_results(output, machine, command, args.quick, figures, skipped, failed, ran, all_ran=not args.only)
    console.print(f"results: {output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
