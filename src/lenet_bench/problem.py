"""The brief's fixed facts, without torch (the report states them; the stages check them)."""
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000   # the brief's split of Fashion-MNIST
PARAMETER_COUNT = 44_426                 # the brief's LeNet-5
SPARSE_LAYERS = ("fc1", "fc2")           # the layers the brief's density bound covers
