"""Stage prepare_data: obtain Fashion-MNIST from the sources in params.yaml, verify it, store it."""
import sys

import _src  # noqa: F401  (this checkout's src/ first)
from lenet_bench import data, files, params
from lenet_bench.data import DataError

OUTPUT = "data/fashion_mnist.pt"


def main() -> None:
    sources = params.load()["data"]["sources"]
    try:
        dataset = data.fetch(sources)
        data.check_split(dataset)
    except DataError as err:
        sys.exit(f"error: {err}")
    files.save_torch(OUTPUT, dataset)
    print(f"wrote {OUTPUT}: {len(dataset['train_images'])} train, {len(dataset['test_images'])} test images")


if __name__ == "__main__":
    main()
