"""Stage train@<scenario>: train LeNet-5 with the configured optimizer; save model, record, curves."""
import sys
from pathlib import Path

import _src  # noqa: F401  (this checkout's src/ first)
from lenet_bench import atomic_files, device
from lenet_bench.core import data, training


def main(scenario: str) -> None:
    config_path = Path("configs") / f"{scenario}.json"
    if not config_path.exists():
        sys.exit(f"error: scenario '{scenario}': {config_path} is missing; scenarios are the keys of "
                 "`scenarios` in params.yaml, written out by `dvc repro configure`")
    config = atomic_files.read_json(config_path)
    try:
        on = device.resolve(config["device"])
    except device.DeviceError as err:
        sys.exit(f"error: params.yaml: {err}")
    print(f"scenario {scenario}: optimizer '{config['optimizer']}' on {on}")
    dataset = data.hold_out(data.load(Path("data/fashion_mnist.pt"), on), config["validation_size"])
    model, record = training.train(config, dataset, on)
    atomic_files.save_torch(Path("models") / f"{scenario}.pt", {k: v.cpu() for k, v in model.state_dict().items()})
    atomic_files.write_json(Path("records") / f"{scenario}.json", record)
    atomic_files.write_csv(Path("plots") / f"{scenario}.csv", record["history"])


if __name__ == "__main__":
    main(sys.argv[1])
