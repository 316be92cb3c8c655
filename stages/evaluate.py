"""Stage evaluate@<scenario>: test loss and accuracy of the saved model, with the run's cost."""
import pickle
import sys
from pathlib import Path

import torch

import _src  # noqa: F401  (this checkout's src/ first)
from lenet_bench import atomic_files
from lenet_bench.core import data, evaluation
from lenet_bench.core.model import LeNet5


def main(scenario: str) -> None:
    config = atomic_files.read_json(Path("configs") / f"{scenario}.json")
    record = atomic_files.read_json(Path("records") / f"{scenario}.json")
    model_path = Path("models") / f"{scenario}.pt"
    try:  # weights only, always: a file that needs more is no model of this pipeline's
        state = torch.load(model_path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        reason = str(err).strip().splitlines()[0][:100] if str(err).strip() else type(err).__name__
        if "weights_only" in reason.lower().replace(" ", "_"):  # torch's advice here is the unsafe load: not ours
            reason = "not a file of tensors alone"
        sys.exit(f"error: {model_path} cannot be read as saved weights ({reason}); train it again: "
                 f"dvc repro --force train@{scenario}")
    if config.get("sparsity"):
        try:
            evaluation.check_bound(state, config["sparsity"])
        except evaluation.BoundError as err:
            sys.exit(f"error: models/{scenario}.pt breaks the sparsity bound: {err}")
    try:  # read here, not in the run config: changing the target re-evaluates, and re-trains nothing
        target = evaluation.target_accuracy(Path("params.yaml").read_text())
    except ValueError as err:
        sys.exit(f"error: params.yaml: {err}")
    model = LeNet5()
    model.load_state_dict(state, strict=True)
    dataset = data.hold_out(data.load(Path("data/fashion_mnist.pt")), config["validation_size"])
    test_loss, test_accuracy = evaluation.evaluate(model, dataset["test_x"], dataset["test_y"])
    history = record["history"]
    metrics = {
        "test": {"loss": test_loss, "accuracy": test_accuracy},
        "train": {"loss": history[-1]["train_loss"]},
        "cost": record["cost"],
        "target": {"accuracy": target, **evaluation.first_reaching(record.get("checks") or history, target)},
        "nonzero": evaluation.nonzero_counts(state),
        "diverged": int(record["diverged"]),  # numbers only: what ran, and on what, is in the run's record
        **({"diverged_at_step": record["diverged_at_step"]} if record["diverged"] else {}),
    }
    if config.get("sparsity"):
        metrics["sparsity"] = {"density_bound": config["sparsity"]["density"]}
    if config["validation_size"]:
        loss, accuracy = evaluation.evaluate(model, dataset["validation_x"], dataset["validation_y"])
        metrics["validation"] = {"loss": loss, "accuracy": accuracy, "size": config["validation_size"]}
    atomic_files.write_json(Path("metrics") / f"{scenario}.json", metrics)
    print(f"{scenario}: test loss {test_loss:.4f}, test accuracy {100 * test_accuracy:.2f}%")


if __name__ == "__main__":
    main(sys.argv[1])
