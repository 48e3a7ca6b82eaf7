"""Configuration, paths and logging helpers."""
