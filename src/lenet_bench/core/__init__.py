"""Training LeNet-5: the data, the model, the optimizers (the project's own in optim/), the schedules, the
sparsity constraint, the training loop and its evaluation. What a DVC stage runs; it knows nothing of
tuning, studies or reports."""
