"""The device that trains: its name, and on NVIDIA GPUs utilisation, memory, temperature and
power (NVML, polled by the screen), a line for each GPU of a run on several; and the run's
peak memory from its epochs: torch's on a GPU, the training process's resident memory on the
CPU (rank 0's, in a run on several processes)."""

from __future__ import annotations

from textual.widgets import Static

from ....domain.format import binary_bytes


class DevicePanel(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._device = ""  # "cpu", "cuda"...
        self._name = ""
        self._free: int | None = None
        self._processes = 1
        self._gpus: list = []  # devices.GpuStats of each GPU the run uses
        self._peak: int | None = None
        self._shown = ""

    def show_device(self, device: str, name: str, free_bytes: int | None = None, processes: int = 1) -> None:
        self._device, self._name, self._free, self._processes = device, name, free_bytes, processes
        self._redraw()

    def show_gpus(self, stats: list) -> None:
        self._gpus = stats
        self._redraw()

    def show_peak(self, peak_bytes: int | None) -> None:
        if peak_bytes != self._peak:
            self._peak = peak_bytes
            self._redraw()

    def _redraw(self) -> None:
        processes = f" · {self._processes} processes (DDP)" if self._processes > 1 else ""
        lines = [f"[b]{self._device or 'device'}[/b] {self._name or '…'}{processes}"]
        if len(self._gpus) == 1:
            gpu = self._gpus[0]
            lines.append(
                f"GPU {gpu.utilization_percent}%  mem {binary_bytes(gpu.memory_used_bytes)}"
                f"/{binary_bytes(gpu.memory_total_bytes)}"
            )
            extras = [
                f"{gpu.temperature_c}°C" if gpu.temperature_c is not None else "",
                f"{gpu.power_w:.0f} W" if gpu.power_w is not None else "",
            ]
            if any(extras):
                lines.append("  ".join(e for e in extras if e))
        elif self._gpus:  # a run on several GPUs: one short line each
            lines += [
                f"GPU{index} {gpu.utilization_percent:>3}%  mem {binary_bytes(gpu.memory_used_bytes)}"
                f"/{binary_bytes(gpu.memory_total_bytes)}"
                for index, gpu in enumerate(self._gpus)
            ]
        elif self._free is not None:
            lines.append(f"{binary_bytes(self._free)} free")
        if self._peak is not None:
            source = "process RSS" if self._device == "cpu" else "torch"
            lines.append(f"peak ({source}) {binary_bytes(self._peak)}")
        text = "\n".join(lines)
        if text != self._shown:  # a repaint is a line sent over SSH: only when it reads differently
            self._shown = text
            self.update(text)
