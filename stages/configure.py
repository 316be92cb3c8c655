"""Stage configure: check params.yaml whole, then write each scenario's run config.

Training stages depend on these files rather than on params.yaml, so a run re-trains only when its
own settings change, and bad input stops here before any training output is touched.
"""
import sys
from pathlib import Path

import _src  # noqa: F401  (this checkout's src/ first)
from lenet_bench import atomic_files, params
from lenet_bench.params import ParamError

OUTPUT_DIR = Path("configs")


def main() -> None:
    settings = params.load()
    try:
        params.check(settings)
        configs = {name: params.run_config(settings, name) for name in settings["scenarios"]}
    except ParamError as err:
        sys.exit(f"error: params.yaml: {err}")
    for name, config in configs.items():
        atomic_files.write_json(OUTPUT_DIR / f"{name}.json", config)
    print(f"optimizer '{settings['optimizer']['name']}', scenarios: {', '.join(configs)}")


if __name__ == "__main__":
    main()
