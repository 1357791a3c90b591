from tui_cnn.domain.history import History
from tui_cnn.domain.spec import LayerSpec


def test_undo_and_redo_walk_every_state(simple_cnn):
    states = [simple_cnn]
    for index in range(len(simple_cnn.layers) - 1, -1, -1):
        states.append(states[-1].remove(index))
    history = History(states[0])
    for state in states[1:]:
        assert history.push(state)
    for state in reversed(states[:-1]):
        assert history.undo() == state
    assert history.undo() is None and history.present == states[0]
    for state in states[1:]:
        assert history.redo() == state
    assert history.redo() is None


def test_a_new_change_drops_the_redo_branch(simple_cnn):
    history = History(simple_cnn)
    history.push(simple_cnn.remove(0))
    history.undo()
    history.push(simple_cnn.remove(1))
    assert not history.can_redo
    assert history.undo() == simple_cnn


def test_pushing_the_present_records_nothing(simple_cnn):
    history = History(simple_cnn)
    assert not history.push(simple_cnn)
    assert not history.can_undo


def test_typing_in_one_field_is_one_step(simple_cnn):
    history = History(simple_cnn)
    conv = simple_cnn.layers[0]
    for channels in (6, 64):  # typed "6", then "64"
        history.push(simple_cnn.replace_layer(0, conv.with_arg("out_channels", channels)), group=(0, "out_channels"))
    history.push(simple_cnn.insert(0, LayerSpec("ReLU")))  # another kind of change: a new step
    assert history.depth == (2, 0)
    assert history.undo().layers[0].args["out_channels"] == 64
    assert history.undo() == simple_cnn


def test_typing_back_to_the_start_leaves_no_empty_step(simple_cnn):
    history = History(simple_cnn)
    conv = simple_cnn.layers[0]
    history.push(simple_cnn.replace_layer(0, conv.with_arg("out_channels", 3)), group="field")
    history.push(simple_cnn, group="field")
    assert history.present == simple_cnn and not history.can_undo


def test_history_keeps_at_most_its_limit(simple_cnn):
    history = History(simple_cnn, limit=3)
    spec = simple_cnn
    for _ in range(5):
        spec = spec.insert(0, LayerSpec("ReLU"))
        history.push(spec)
    assert history.depth == (3, 0)
