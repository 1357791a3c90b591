from tui_cnn.domain import analyze


def test_simple_cnn_matches_the_lecture(simple_cnn):
    analysis = analyze(simple_cnn, batch_size=64)
    assert analysis.valid
    assert analysis.totals.params == 50_186
    assert analysis.layers[0].macs == 16_056_320
    assert analysis.layers[-2].output_shape == (64, 3136)
    assert analysis.output_shape == (64, 10)
