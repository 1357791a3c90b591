"""The builder screen's widgets: the layer stack, the argument form, and its dialogs."""
