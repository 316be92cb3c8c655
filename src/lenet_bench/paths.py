"""Where the project keeps its files, relative to the repository's root."""
from pathlib import Path

PARAMS = Path("params.yaml")
PRESETS = Path("presets.yaml")                   # params.yaml's `optimizers`, a params file of its own
DATASET = Path("data/fashion_mnist.pt")          # the prepare_data stage's output
EXPORT = Path("results/study.csv")               # the study's runs, one row per preset, scenario and seed
EXPERIMENTS = Path("results/experiments.csv")    # finished DVC experiments, exported
SPEED = Path("results/speed.csv")                # `lenet-bench speed`: calibrated seconds per epoch
TUNING = Path("tuning")                          # one Optuna journal and table per preset
