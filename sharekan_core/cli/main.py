"""Argument parsing, dispatch, and the one-line error contract of the command line."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Callable, NoReturn, Sequence

from ..errors import SharekanError, os_error_message
from . import experiment_commands, model_commands, runtime_commands, task_commands
from .terminal import quiet_libraries

# Each module adds its subcommands; a subcommand's handler returns a JSON-able object or None.
# Command modules import only argparse and light constants at the top; torch, executorch and the
# experiments are imported inside the handlers that need them, so ``--help`` answers at once.
COMMAND_MODULES = [model_commands, task_commands, experiment_commands, runtime_commands]

DESCRIPTION = """SHARe-KAN Studio: compress pre-trained Kolmogorov-Arnold Networks after training.

Each edge's B-spline coefficients c are rewritten as bias + gain * codebook[index], with the
codebook shared by a layer (or the whole model) and gains, biases and base weights stored at a
chosen bit-width. Models load from the project's .safetensors format, efficient-kan state_dicts
(.pt/.pth/.safetensors) and pykan checkpoints ({path}_state, with {path}_config.yml beside it), alone or
as the KAN head of a bigger model's checkpoint (--prefix head.; 'inspect' lists the KANs a file holds).
A state dict that does not record its base activation needs --base-activation (silu, gelu, identity, ...);
a file whose tensors or forward cannot be reproduced exactly is refused, never imported approximately.
"""

EPILOG = """examples:
  python -m sharekan_core inspect sample_models/digits_kan.safetensors
  python -m sharekan_core compress sample_models/digits_kan.safetensors --codebook-size 256 --bits 8 --out digits.skan
  python -m sharekan_core predict digits.skan --input x.npy --out y.npy
  python -m sharekan_core decompress digits.skan --out digits_rebuilt.safetensors

errors print one line 'error: ...' and exit with status 2; set SHAREKAN_DEBUG=1 for a traceback.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = OneLineParser(prog="python -m sharekan_core", description=DESCRIPTION, epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors follow the CLI's contract: one ``error:`` line, status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: message`` and exit with status 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


# Arguments naming files a command reads, and files it writes: an output may not be an input.
INPUT_ARGUMENTS = ("model", "compressed", "source", "target", "heads", "input", "image", "head", "calibration")
OUTPUT_ARGUMENTS = ("out", "pte")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable outputs before any work, and clear temporary files that killed runs left beside them."""
    from ..io.atomic import remove_stale_parts, resolve_output

    inputs = []
    for name in INPUT_ARGUMENTS:
        value = getattr(args, name, None)
        inputs += value if isinstance(value, list) else [value] if value else []
    for name in OUTPUT_ARGUMENTS:
        if getattr(args, name, None) is not None:
            remove_stale_parts(resolve_output(getattr(args, name), inputs).parent)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    handler: Callable[[argparse.Namespace], object] = args.handler
    try:
        with quiet_libraries():
            check_outputs(args)
            result = handler(args)
    except SharekanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable, missing or unwritable user files
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print("error: a file that should hold text is not UTF-8", file=sys.stderr)
        return 2
    except RecursionError:
        print("error: an input file is nested too deeply to read", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory; try a smaller codebook or model", file=sys.stderr)
        return 2
    except Exception as exc:  # never show a traceback to a user unless asked
        if os.environ.get("SHAREKAN_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
              "set SHAREKAN_DEBUG=1 for details", file=sys.stderr)
        return 1
    if result is not None:
        sys.stdout.write(json.dumps(finite_json(result), indent=2, allow_nan=False) + "\n")
    return 0


def finite_json(value: object) -> object:
    """Return ``value`` with numpy scalars/arrays made plain and NaN/Inf floats replaced by None."""
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if hasattr(value, "tolist"):
        return finite_json(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
