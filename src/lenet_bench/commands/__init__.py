"""The project's commands, each run as `lenet-bench <command>` (lenet_bench.cli)."""
