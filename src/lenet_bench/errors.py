"""The one kind of error a user gets as one line: what is wrong and how to fix it, no traceback
(`lenet-bench --debug <command>`, or LENET_BENCH_DEBUG=1, shows it for a bug report)."""


class UserError(Exception):
    """A mistake in the input or a damaged file: the message names the thing to fix."""
