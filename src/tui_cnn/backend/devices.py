"""Which device trains, what it is, and how busy the GPU is.

Two ways to describe a device. ``resolve_device``/``describe_device`` import torch: only the
training processes call them. ``probe_device`` and ``gpu_stats`` read NVML (nvidia-ml-py, as
nvitop does) and the OS, never torch: the app calls them, so it never loads torch and never
opens a CUDA context (hundreds of MiB held on the training GPU for as long as it is open).
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from ..domain.run_records import DeviceRecord


@dataclass(frozen=True)
class GpuStats:
    utilization_percent: int
    memory_used_bytes: int
    memory_total_bytes: int
    temperature_c: int | None
    power_w: float | None


def resolve_device(name: str) -> str:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; any other name is kept as given."""
    if name != "auto":
        return name
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def describe_device(device: str) -> DeviceRecord:
    import torch

    kind = device.split(":")[0]
    if kind == "cuda":
        index = torch.device(device).index or 0
        free, total = torch.cuda.mem_get_info(index)
        return DeviceRecord(kind, torch.cuda.get_device_name(index), total, free)
    if kind == "mps":
        return DeviceRecord(kind, "Apple GPU", torch.mps.recommended_max_memory(), None)
    total, free = _system_memory()
    return DeviceRecord("cpu", _cpu_name(), total, free)


@dataclass(frozen=True)
class DeviceProbe:
    """What the app can say of a device before any training process runs."""

    kind: str  # the device a run would use: "cuda" | "mps" | "cpu"
    info: DeviceRecord | None  # None: this device is not here
    problem: str | None = None  # why it cannot train here, for the form


def probe_device(name: str) -> DeviceProbe:
    """``name`` (auto, cpu, cuda, mps) as NVML and the OS see it: no torch. ``auto`` is
    predicted as the training process will resolve it (CUDA when NVML finds a GPU, then MPS on
    Apple silicon, then the CPU)."""
    gpus = gpu_count()
    apple = sys.platform == "darwin" and platform.machine() == "arm64"
    kind = name if name != "auto" else "cuda" if gpus else "mps" if apple else "cpu"
    if kind == "cuda":
        if not gpus:
            return DeviceProbe(kind, None, "no NVIDIA GPU here (NVML finds none): choose cpu or auto")
        return DeviceProbe(kind, _nvml_device_info(0))
    if kind == "mps":
        if not apple:
            return DeviceProbe(kind, None, "Apple MPS exists only on Apple silicon Macs: choose cpu or auto")
        total, _ = _system_memory()
        return DeviceProbe(kind, DeviceRecord(kind, "Apple GPU", total, None))
    total, free = _system_memory()
    return DeviceProbe("cpu", DeviceRecord("cpu", _cpu_name(), total, free))


def _nvml_device_info(index: int) -> DeviceRecord | None:
    try:
        pynvml = _nvml()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        name = pynvml.nvmlDeviceGetName(handle)
        return DeviceRecord(
            "cuda", name.decode() if isinstance(name, bytes) else str(name), int(memory.total), int(memory.free)
        )
    except Exception:  # noqa: BLE001 - NVML went away between the count and the read
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine() or 'CPU'} ({os.cpu_count()} cores)"


def _system_memory() -> tuple[int | None, int | None]:
    """(total, available) bytes from /proc/meminfo; (None, None) where there is none."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        kib = lambda key: int(fields[key].split()[0]) * 1024  # noqa: E731
        return kib("MemTotal"), kib("MemAvailable")
    except (OSError, KeyError, ValueError):
        return None, None


def peak_resident_bytes() -> int | None:
    """The process's peak resident memory (RSS): on the CPU, where torch keeps no allocator
    statistics, the nearest figure to a training run's peak memory (the monitor trains in a
    process of its own). None where the OS does not say (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux KiB


def gpu_stats(index: int = 0) -> GpuStats | None:
    """Utilisation, memory, temperature and power of NVIDIA GPU ``index``; None when there is
    no NVIDIA GPU or NVML cannot be loaded. Never raises: a monitor calls it on a timer."""
    try:
        pynvml = _nvml()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        utilization = pynvml.nvmlDeviceGetUtilizationRates(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        return GpuStats(
            int(utilization.gpu),
            int(memory.used),
            int(memory.total),
            _optional(lambda: int(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))),
            _optional(lambda: pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
        )
    except Exception:  # noqa: BLE001 - NVML missing, no driver, no such GPU: no statistics
        return None


def training_gpus(count: int, environ: dict[str, str] | None = None) -> list[int]:
    """NVML's indexes of the GPUs that CUDA devices 0..count-1 of a training process are:
    NVML numbers every GPU of the machine, CUDA only those CUDA_VISIBLE_DEVICES lists (by
    index; a list of UUIDs is not mapped: then the first ``count``)."""
    visible = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES", "")
    indexes = [part.strip() for part in visible.split(",") if part.strip()]
    if len(indexes) >= count and all(index.isdigit() for index in indexes[:count]):
        return [int(index) for index in indexes[:count]]
    return list(range(count))


def gpu_count() -> int:
    """NVIDIA GPUs on this machine, as NVML sees them (no CUDA context, no torch); 0 without
    a driver or NVML."""
    try:
        return int(_nvml().nvmlDeviceGetCount())
    except Exception:  # noqa: BLE001 - no NVML, no driver: no GPU to count
        return 0


@functools.cache
def _nvml():
    """NVML, initialised once per process (a failure is not cached: it raises again)."""
    import pynvml

    pynvml.nvmlInit()
    return pynvml


def _optional(read):
    """Some GPUs do not report temperature or power; that hides one figure, not all."""
    try:
        return read()
    except Exception:  # noqa: BLE001
        return None
