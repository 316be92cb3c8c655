"""The read side: the report, its pages, figures, scores and PDF, built from committed files alone (no
torch, no Optuna)."""
