"""Tuning presets on Optuna: search spaces, the tuning engine, its tables (read without Optuna) and the
pruning audit."""
