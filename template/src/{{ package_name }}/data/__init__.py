"""Loading the raw data and turning it into the train/test split."""
