"""Stage prepare_data: obtain Fashion-MNIST from the sources in params.yaml, verify it, store it."""
import sys
from pathlib import Path

import yaml

import _src  # noqa: F401  (this checkout's src/ first)
from lenet_bench import atomic_files
from lenet_bench.core import data
from lenet_bench.core.data import DataError

OUTPUT = "data/fashion_mnist.pt"


def main() -> None:
    # Only the sources (strings) are read here, so plain YAML will do: this stage needs none of the
    # checks of lenet_bench.params, and does not re-run when they change.
    sources = yaml.safe_load(Path("params.yaml").read_text())["data"]["sources"]
    try:
        dataset = data.fetch(sources)
        data.check_split(dataset)
    except DataError as err:
        sys.exit(f"error: {err}")
    atomic_files.save_torch(OUTPUT, dataset)
    print(f"wrote {OUTPUT}: {len(dataset['train_images'])} train, {len(dataset['test_images'])} test images")


if __name__ == "__main__":
    main()
