"""Figures for reports."""
