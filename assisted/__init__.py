"""Assisted labeling: machine-made box proposals (a zero-label bootstrap, pre-labels from a
model, hard frames from tracking and evaluation) kept apart from the labels people make."""
