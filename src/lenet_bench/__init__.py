"""LeNet-5 on Fashion-MNIST: a workbench for comparing optimizers."""
