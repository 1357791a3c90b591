"""The torch backend: build models from specs, load data, train. Imported lazily: nothing
here may be imported by the app before its first frame."""
