"""LeNet-5 on Fashion-MNIST: a workbench for comparing optimizers."""
import os

# Set before torch loads (every entry point imports this package first): OpenMP threads that wait for a core
# another process holds spin by default, and a run that shares the machine then loses a factor of 2 to 7 (two
# runs of 2 threads on 2 cores); waiting passively changes no number (tests/test_training.py), only the time.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
