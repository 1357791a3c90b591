"""How often the monitor redraws a live run: briskly while a person works the app, calmly while
they only watch it.

On a CPU box every redraw is taken from training: the trainer's threads fill the cores and wait
for each other, so a few milliseconds of drawing stall all of them (a 2-core box trained at
0.92x its headless speed with the monitor redrawing twice a second and the batch curve once a
second, the app using ~5% of a core). Nobody needs the batch curve every second while they
only look: after a few seconds without a key or the mouse, the monitor redraws once a second
and its table and curves every 30 s; a key brings the brisk pace back at once, and what waited
shows within its few seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WatchPace:
    redraw_every_s: float  # reads the run; the run's clock
    details_every_s: float  # the epoch's bar, batch count and clock, the loss and speed line
    batch_plot_every_s: float  # the current epoch's loss curve (plotext draws it in Python), a new epoch's too
    epoch_curves_every_s: float  # the loss and accuracy curves, as epochs end
    epoch_table_every_s: float  # the table's new rows, as epochs end


#: A person pressing keys or moving the mouse: what they do shows at once anyway; the run's
#: progress twice a second, its batch curve every second.
BRISK = WatchPace(
    redraw_every_s=0.5, details_every_s=0.5, batch_plot_every_s=1.0, epoch_curves_every_s=5.0, epoch_table_every_s=5.0
)
#: Nobody touching the app: the run's clock still ticks every second, the epoch's progress moves
#: every 3 s (a calm monitor at 160x50 spent most of its 1.6% of a core repainting the five
#: lines that change each second: py-spy), and the table and the three plots every 30 s, as
#: TensorBoard reloads a run. With epochs of 7 s (20,000 images on 2 cores) the table's new row
#: each epoch was a third of a calm monitor's CPU (a layout, the visible rows and the scroll
#: bar drawn again: ~0.1 s of one core each time) and the plots another third (plotext, in
#: Python; a new epoch redrew the batch curve at once). A run's status shows at the next tick
#: whatever the pace, and a finished run's figures at once.
CALM = WatchPace(
    redraw_every_s=1.0,
    details_every_s=3.0,
    batch_plot_every_s=30.0,
    epoch_curves_every_s=30.0,
    epoch_table_every_s=30.0,
)
#: This long without input, the monitor turns calm.
CALM_AFTER_S = 5.0


def watch_pace(seconds_since_input: float) -> WatchPace:
    return CALM if seconds_since_input >= CALM_AFTER_S else BRISK
