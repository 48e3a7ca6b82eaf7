"""Feature engineering shared by training, evaluation and prediction."""
