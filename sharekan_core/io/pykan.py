"""Import pykan (MultKAN) checkpoints written by ``model.saveckpt(path)``.

pykan stores ``act_fun.L.coef`` as (in, out, G+k), transposed relative to efficient-kan,
with separate ``scale_base``/``scale_sp``/``mask`` (in, out) and per-node affines.
"""
from __future__ import annotations

import reprlib
from pathlib import Path

import torch

from ..errors import SharekanError, os_error_message

MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NESTING = 32  # pykan writes flat settings and [n, 0] pairs


def looks_like_pykan(tensors: dict[str, torch.Tensor]) -> bool:
    """True if the keys follow pykan's ``act_fun.L.coef`` naming."""
    return "act_fun.0.coef" in tensors


def pykan_checkpoint_file(path: Path) -> Path:
    """The file to read for ``path``: a pykan checkpoint named as ``saveckpt`` and ``loadckpt`` name it (its
    prefix) or by its ``{prefix}_config.yml`` resolves to ``{prefix}_state``; any other path is returned as is."""
    name = path.name
    if name.endswith("_config.yml"):
        state = path.with_name(name[: -len("_config.yml")] + "_state")
        if not state.is_file():
            raise SharekanError(f"{name}: a pykan config, but its weights file {state.name} is not beside it")
        return state
    prefixed = path.with_name(name + "_state")
    if not path.exists() and prefixed.is_file():
        return prefixed
    return path


def read_pykan_config(state_path: Path) -> dict | None:
    """Return the ``{prefix}_config.yml`` next to a ``{prefix}_state`` file, if present."""
    name = state_path.name
    if not name.endswith("_state"):
        return None
    config_path = state_path.with_name(name[: -len("_state")] + "_config.yml")
    if not config_path.is_file():
        return None
    import yaml  # only needed for pykan checkpoints

    try:
        if config_path.stat().st_size > MAX_CONFIG_BYTES:
            raise SharekanError(f"{config_path.name}: pykan config is larger than {MAX_CONFIG_BYTES // 1024} KiB")
        text = config_path.read_bytes().decode("utf-8")
        _check_nesting(text, config_path.name)
        config = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise SharekanError(f"{config_path.name}: pykan config is not UTF-8 text") from None
    except RecursionError:
        raise SharekanError(f"{config_path.name}: pykan config is nested too deeply") from None
    except yaml.YAMLError as exc:
        raise SharekanError(f"{config_path.name}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise SharekanError(os_error_message(exc)) from None
    if config is not None and not isinstance(config, dict):
        raise SharekanError(f"{config_path.name}: pykan config is not a mapping of settings")
    return config


def _check_nesting(text: str, name: str) -> None:
    """Refuse deep nesting from the parser's event stream, before the (recursive) composer builds anything."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_CONFIG_NESTING:
                raise SharekanError(f"{name}: pykan config is nested more than {MAX_CONFIG_NESTING} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _config_widths(config: dict, source: str) -> list:
    widths = config.get("width", [])
    if not isinstance(widths, list) or not all(
            _is_width(w) or (isinstance(w, list) and 1 <= len(w) <= 2 and all(_is_width(v) for v in w)) for w in widths):
        raise SharekanError(f"{source}: pykan config 'width' must be a list of layer widths, got {reprlib.repr(widths)}")
    return widths


def _is_width(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def pykan_to_layers(tensors: dict[str, torch.Tensor], config: dict | None, source: str) -> dict[str, torch.Tensor]:
    """Rewrite a pykan state_dict into ``layers.N.*`` tensors of the project's layout."""
    if config is not None:
        if config.get("base_fun_name", "silu") != "silu":
            raise SharekanError(f"{source}: pykan base function {reprlib.repr(config['base_fun_name'])} is unsupported (only silu)")
        widths = _config_widths(config, source)
        if any(isinstance(w, list) and len(w) > 1 and w[1] for w in widths):
            raise SharekanError(f"{source}: pykan multiplication nodes are unsupported")
    converted: dict[str, torch.Tensor] = {}
    depth = 0
    while f"act_fun.{depth}.coef" in tensors:
        depth += 1
    for layer in range(depth):
        def get(key: str) -> torch.Tensor:
            try:
                return tensors[key].to(torch.float32)
            except KeyError:
                raise SharekanError(f"{source}: pykan checkpoint lacks '{key}'") from None

        symbolic = tensors.get(f"symbolic_fun.{layer}.mask")
        if symbolic is not None and bool((symbolic != 0).any()):
            raise SharekanError(f"{source}: layer {layer} has symbolic functions fixed; only numerical splines can be imported")
        coef = get(f"act_fun.{layer}.coef")                # (in, out, D)
        if coef.dim() != 3:
            raise SharekanError(f"{source}: act_fun.{layer}.coef must be 3-D (in, out, G+k)")
        mask = get(f"act_fun.{layer}.mask")                # (in, out)
        scale_base = get(f"act_fun.{layer}.scale_base")
        scale_sp = get(f"act_fun.{layer}.scale_sp")
        for key, value in (("mask", mask), ("scale_base", scale_base), ("scale_sp", scale_sp)):
            if value.shape != coef.shape[:2]:
                raise SharekanError(f"{source}: act_fun.{layer}.{key} has shape {tuple(value.shape)}, expected {tuple(coef.shape[:2])}")
        # pykan computes node_scale * (subnode_scale * y + subnode_bias) + node_bias.
        sub_scale, sub_bias = get(f"subnode_scale_{layer}"), get(f"subnode_bias_{layer}")
        node_scale, node_bias = get(f"node_scale_{layer}"), get(f"node_bias_{layer}")
        for key, value in zip(("subnode_scale", "subnode_bias", "node_scale", "node_bias"),
                              (sub_scale, sub_bias, node_scale, node_bias)):
            if value.shape != coef.shape[1:2]:
                raise SharekanError(f"{source}: {key}_{layer} has shape {tuple(value.shape)}, expected ({coef.shape[1]},)")
        prefix = f"layers.{layer}."
        converted[prefix + "grid"] = get(f"act_fun.{layer}.grid")
        converted[prefix + "spline_weight"] = coef.permute(1, 0, 2).contiguous()
        converted[prefix + "base_weight"] = (scale_base * mask).t().contiguous()
        converted[prefix + "spline_scaler"] = (scale_sp * mask).t().contiguous()
        converted[prefix + "output_scale"] = node_scale * sub_scale
        converted[prefix + "output_bias"] = node_scale * sub_bias + node_bias
    return converted
