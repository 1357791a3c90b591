"""The test-set evaluation once a run ends: accuracy, the confusion matrix as a coloured
grid with per-class accuracy beside it (numbers in every cell, so it reads without colour),
and misclassified test images with their true and predicted labels."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import HorizontalScroll, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from ....domain.format import grouped
from ....domain.run_records import Evaluation, Misclassified
from .digits import half_block_image
from .text import percent

MAX_DIGITS = 8
CELL = 5  # characters per confusion-matrix column: 10 classes + labels fit 80 columns


def class_label(index: int, classes: list[str]) -> str:
    name = classes[index] if index < len(classes) else str(index)
    return name if name == str(index) else f"{index} {name}"


_CORNER = "true\\pred"


class ConfusionGrid(Static):
    """Rows are true classes, columns predictions. A diagonal cell's green deepens with the
    class's accuracy; an off-diagonal cell's red with its share of the row's images."""

    def show(self, evaluation: Evaluation) -> None:
        self.update(self._grid(evaluation))

    def _grid(self, evaluation: Evaluation) -> Text:
        matrix, classes = evaluation.confusion_matrix, evaluation.classes
        theme = self.app.theme_variables
        base = Color.parse(theme.get("surface", "#1e1e1e"))
        good, bad = Color.parse(theme.get("success", "green")), Color.parse(theme.get("error", "red"))
        label_width = max([len(class_label(i, classes)) for i in range(len(matrix))] + [len(_CORNER)])
        text = Text(no_wrap=True)
        text.append(_CORNER.ljust(label_width), "bold")
        for column in range(len(matrix)):
            text.append(str(column).rjust(CELL), "bold")
        text.append("     acc\n", "bold")
        for row, counts in enumerate(matrix):
            total = max(sum(counts), 1)
            text.append(class_label(row, classes).ljust(label_width)[:label_width])
            for column, count in enumerate(counts):
                share = count / total
                if column == row:
                    background = base.blend(good, 0.25 + 0.75 * share)
                elif count:
                    background = base.blend(bad, 0.35 + 0.65 * min(share * 5, 1.0))
                else:
                    background = base
                style = f"{background.get_contrast_text(1.0).rich_color.name} on {background.rich_color.name}"
                text.append(str(count).rjust(CELL), style + (" bold" if column == row else ""))
            accuracy = evaluation.per_class_accuracy[row] if row < len(evaluation.per_class_accuracy) else None
            text.append(f"  {percent(accuracy, 1):>6}")
            if row < len(matrix) - 1:
                text.append("\n")
        return text


class DigitCard(Static, can_focus=True):
    """A misclassified digit: click it or press enter to look inside the model on it."""

    BINDINGS = [Binding("enter", "choose", "Inspect this digit")]

    def __init__(self, example: Misclassified, content) -> None:
        super().__init__(content, classes="digit")
        self.example = example

    def on_click(self) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        self.post_message(MisclassifiedDigits.Chosen(self.example))


class MisclassifiedDigits(HorizontalScroll):
    class Chosen(Message):
        def __init__(self, example: Misclassified) -> None:
            super().__init__()
            self.example = example

    def show(self, evaluation: Evaluation) -> None:
        self.remove_children()
        self.mount_all(self._cards(evaluation))

    @staticmethod
    def _cards(evaluation: Evaluation) -> list[Static]:
        cards = []
        for wrong in evaluation.misclassified[:MAX_DIGITS]:
            image = half_block_image(wrong.image)
            image.append(
                f"\ntrue {class_label(wrong.true, evaluation.classes)}\n"
                f"predicted {class_label(wrong.predicted, evaluation.classes)}"
            )
            cards.append(DigitCard(wrong, image))
        return cards


def no_evaluation_text(status: str) -> str:
    """Why a run shows no evaluation, and how to get one: a run is scored on its test split once,
    when it finishes, so a stopped or crashed one never was."""
    if status == "stopped":
        return (
            "No evaluation: this run was stopped before its last epoch, and a run is scored on the test "
            "split only when it finishes. To score it, continue it to its last epoch (Runs, 4, then c); "
            "Inspect (5) shows its checkpoint's predictions now."
        )
    if status in ("failed", "crashed"):
        return (
            "No evaluation: this run ended before it finished, so it was never scored. Continue it from "
            "its last checkpoint (Runs, 4, then c) and it is scored when it finishes."
        )
    if status in ("starting", "running", "paused", "stopping"):
        return "No evaluation yet: the test split is scored once, when this run finishes."
    return "No evaluation yet: it appears when a run finishes."


class EvaluationPanel(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static(no_evaluation_text("idle"), id="eval-summary")
        yield ConfusionGrid(id="confusion")
        yield Static("", id="misclassified-title")
        yield MisclassifiedDigits(id="misclassified")

    def show(self, evaluation: Evaluation | None, status: str = "idle") -> None:
        """The run's evaluation; without one, why not (``status``: the run's, RunState's)."""
        for part in ("#confusion", "#misclassified-title", "#misclassified"):  # not another run's
            self.query_one(part).display = evaluation is not None
        if evaluation is None:
            self.query_one("#eval-summary", Static).update(no_evaluation_text(status))
            return
        tested = sum(map(sum, evaluation.confusion_matrix))
        # no confusion matrix: a figure your own loop gave (tui_cnn.init's run.finish)
        on = f" on {grouped(tested)} {evaluation.split} images, scored once at the end" if tested else ""
        self.query_one("#eval-summary", Static).update(f"[b]Test accuracy {percent(evaluation.accuracy)}[/b]{on}")
        self.query_one(ConfusionGrid).show(evaluation)
        wrong = len(evaluation.misclassified)
        self.query_one("#misclassified-title", Static).update(
            f"[b]Misclassified[/b] ({min(wrong, MAX_DIGITS)} shown)" if wrong else ""
        )
        self.query_one(MisclassifiedDigits).show(evaluation)
