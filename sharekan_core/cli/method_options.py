"""The compress command's --method choices and method options, made from the registered configs' fields.

Each field of a registered config is an option (``--field-name``); its value type, allowed values and
each method's default come from the config, so a new config is on the command line when it registers.
Options left out are not passed: the config's own default applies.
"""
from __future__ import annotations

import argparse
from typing import Any

from ..compression.registry import config_fields, method_configs
from ..errors import SharekanError
from ..ranges import MAX_CODEBOOK, MIN_CODEBOOK

# options spelled otherwise than --field-name (a field whose default is True gets the flag that turns it off)
FLAGS = {"codebook_size": ("--codebook-size", "-K"), "weighted": ("--unweighted",), "refit_gain": ("--no-refit",)}
REQUIRED = {"codebook_size"}  # fields the command line asks for although the config has a default
HELP = {
    "codebook_size": f"codebook size K, {MIN_CODEBOOK}..{MAX_CODEBOOK}",
    "bits": "bit-width: every component for sharekan/kmeans, coefficients and base weights for uniform/gptq, "
            "kept values for prune",
    "codebook_bits": "override --bits for the codebook", "gain_bits": "override --bits for gains",
    "bias_bits": "override --bits for biases", "base_bits": "override --bits for base weights",
    "layer_bits": "one bit-width per layer (mixed precision), e.g. 8,4; replaces --bits layer by layer, "
                  "the --<component>-bits options still override",
    "scope": "codebook per layer or one for the model",
    "seed": "random seed (same seed, same bytes)",
    "weighted": "cluster shapes without gain^2 weights (the paper's plain k-means)",
    "refit_gain": "keep gain = ||c - bias|| instead of the least-squares refit",
    "group_size": "one scale per group of this many edges (inputs) of an output instead of one per output channel",
    "sparsity": "fraction of edges removed per layer, [0, 1)",
    "kmeans_method": "the codebook builder's k-means algorithm",
    "spherical": "cluster unit-norm shapes by cosine (spherical k-means)",
    "data_aware_passes": "with --calibration, alternations of assignment, refit and codeword update",
    "damping": "fraction of the Hessian's mean diagonal added to its diagonal",
}
CALIBRATION = "calibration"  # the option of every config that reads calibration inputs


def method_names() -> tuple[str, ...]:
    """The --method choices: every registered method, SHARe-KAN first."""
    return tuple(method_configs())


def method_options(method: str) -> set[str]:
    """The option names (dests) that ``method`` reads: its config's fields, and calibration if it uses it."""
    config_type = method_configs()[method]
    return set(config_fields(config_type)) | ({CALIBRATION} if config_type.uses_calibration else set())


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """Add one option per field of the registered configs (a field several configs share is one option)."""
    fields: dict[str, dict[str, Any]] = {}  # field -> its type, choices and each method's default
    for method, config_type in method_configs().items():
        for name, (kind, default) in config_fields(config_type).items():
            entry = fields.setdefault(name, {"type": kind, "choices": {}, "defaults": {}})
            if entry["type"] is not kind:
                raise TypeError(f"field {name!r} is {entry['type'].__name__} in one config, {kind.__name__} in another")
            entry["choices"].update(dict.fromkeys(config_type.choices.get(name, ())))
            entry["defaults"][method] = default
    for name, entry in fields.items():
        flags = FLAGS.get(name, (f"--{name.replace('_', '-')}",))
        methods = "/".join(entry["defaults"])
        given = {method: default for method, default in entry["defaults"].items()
                 if default is not None and entry["type"] is not bool}
        defaults = (str(next(iter(given.values()))) if len(set(given.values())) == 1
                    else ", ".join(f"{method} {default}" for method, default in given.items()))
        text = f"{methods}: {HELP.get(name, name.replace('_', ' '))}" + (f" (default: {defaults})" if defaults else "")
        text += " (required)" if name in REQUIRED else ""
        choices = list(entry["choices"]) or None  # the configs' order; numbers ascending
        choices = sorted(choices) if choices and all(isinstance(value, int) for value in choices) else choices
        if entry["type"] is bool:
            turns_on = not any(entry["defaults"].values())
            parser.add_argument(*flags, dest=name, action="store_const", const=turns_on, default=None, help=text)
        elif entry["type"] is tuple:
            parser.add_argument(*flags, dest=name, type=item_list(choices), metavar="B1,B2,...", help=text)
        else:
            parser.add_argument(*flags, dest=name, type=entry["type"], choices=choices, help=text)


def item_list(choices: list | None):
    """An argparse type: '8,4,8' -> (8, 4, 8), each among ``choices``; anything else an argparse error."""
    def parse(text: str) -> tuple[int, ...]:
        try:
            items = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated bit-widths such as 8,4, got {text!r}") from None
        bad = [item for item in items if choices and item not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"must be among {', '.join(map(str, choices))}, got {bad[0]}")
        return items
    return parse


def method_config(args: argparse.Namespace) -> Any:
    """The config of ``--method`` from the options given; options another method reads are refused."""
    method = args.method
    every = set().union(*(method_options(name) for name in method_configs()))
    for option in sorted(every - method_options(method)):
        if getattr(args, option, None) is not None:
            raise SharekanError(f"--{option.replace('_', '-')} does not apply to --method {method}")
    config_type = method_configs()[method]
    fields = config_fields(config_type)
    for name in sorted(REQUIRED & set(fields)):
        if getattr(args, name, None) is None:
            flags = FLAGS.get(name, (f"--{name.replace('_', '-')}",))
            raise SharekanError(f"--method {method} needs {flags[0]}" + (f" ({flags[1]})" if len(flags) > 1 else ""))
    return config_type(**{name: getattr(args, name) for name in fields if getattr(args, name, None) is not None})
