"""Training, evaluation and prediction entry points."""
