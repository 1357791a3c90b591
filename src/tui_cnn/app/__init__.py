"""The Textual app: screens, widgets and styles. Uses the domain; never imports torch at
module level (torch loads lazily, off the UI's path, only when a model is built or trained)."""
