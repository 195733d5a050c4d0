"""Import pykan (MultKAN) checkpoints written by ``model.saveckpt(path)``.

pykan stores ``act_fun.L.coef`` as (in, out, G+k), transposed relative to efficient-kan,
with separate ``scale_base``/``scale_sp``/``mask`` (in, out) and per-node affines.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import SharekanError, os_error_message
from .bounded_yaml import brief, load_bounded_yaml

if TYPE_CHECKING:
    from ..model import KAN

MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NESTING = 32  # pykan writes flat settings and [n, 0] pairs
MAX_CONFIG_NODES = 20_000  # values once aliases are expanded: a "billion laughs" is refused before it is built


# pykan's base_fun names (MultKAN's ``base_fun_name``) and the project's activation for each.
PYKAN_BASE_FUNCTIONS = {"silu": "silu", "identity": "identity", "zero": "zero"}


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
        config = load_bounded_yaml(text, f"{config_path.name}: pykan config", MAX_CONFIG_NESTING, MAX_CONFIG_NODES)
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


def _config_widths(config: dict, source: str) -> list:
    widths = config.get("width", [])
    if not isinstance(widths, list) or not all(
            _is_width(w) or (isinstance(w, list) and 1 <= len(w) <= 2 and all(_is_width(v) for v in w)) for w in widths):
        raise SharekanError(f"{source}: pykan config 'width' must be a list of layer widths, got {brief(widths)}")
    return widths


def _is_width(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def pykan_base_function(config: dict | None, source: str) -> str | None:
    """The base activation a pykan config records (``base_fun_name``), or None without a config."""
    if config is None:
        return None
    name = config.get("base_fun_name", "silu")
    if name not in PYKAN_BASE_FUNCTIONS:
        raise SharekanError(f"{source}: pykan base function {brief(name)} is unsupported "
                            f"(pykan's {', '.join(PYKAN_BASE_FUNCTIONS)} are)")
    return PYKAN_BASE_FUNCTIONS[name]


def pykan_to_layers(tensors: dict[str, torch.Tensor], config: dict | None, source: str,
                    prefix: str = "") -> tuple[dict[str, torch.Tensor], set[str]]:
    """Rewrite a pykan state_dict into ``layers.N.*`` tensors of the project's layout; also return the pykan
    keys read (the caller refuses any other). Errors name each key as the file does, after ``prefix``.

    An input whose knots are all equal (pykan's adaptive grid on a constant input) gets spline coefficients
    of zero on an ordinary knot row: pykan's ``B_batch`` evaluates every basis of such a row as 0.
    """
    if config is not None:
        widths = _config_widths(config, source)
        if any(isinstance(w, list) and len(w) > 1 and w[1] for w in widths):
            raise SharekanError(f"{source}: pykan multiplication nodes are unsupported")
    converted: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    depth = 0
    while f"act_fun.{depth}.coef" in tensors:
        depth += 1
    if depth == 0:
        raise SharekanError(f"{source}: pykan layers must be numbered from 0, and there is no act_fun.0.coef")
    for layer in range(depth):
        def get(key: str) -> torch.Tensor:
            try:
                value = tensors[key]
            except KeyError:
                raise SharekanError(f"{source}: pykan checkpoint lacks '{prefix}{key}'") from None
            used.add(key)
            if value.is_complex() or value.dtype == torch.bool:
                raise SharekanError(f"{source}: {prefix}{key} has dtype {value.dtype}, expected real numbers")
            if not bool(torch.isfinite(value).all()):
                raise SharekanError(f"{source}: {prefix}{key} contains NaN or Inf values")
            return value.to(torch.float32)

        symbolic = tensors.get(f"symbolic_fun.{layer}.mask")
        if symbolic is not None and bool((symbolic != 0).any()):
            raise SharekanError(f"{source}: layer {layer} has symbolic functions fixed; only numerical splines can be imported")
        # With every symbolic mask 0 the symbolic branch adds nothing, so its tensors are read as used.
        used.update(key for key in (f"symbolic_fun.{layer}.mask", f"symbolic_fun.{layer}.affine") if key in tensors)
        coef = get(f"act_fun.{layer}.coef")                # (in, out, D)
        if coef.dim() != 3:
            raise SharekanError(f"{source}: {prefix}act_fun.{layer}.coef must be 3-D (in, out, G+k)")
        mask = get(f"act_fun.{layer}.mask")                # (in, out)
        scale_base = get(f"act_fun.{layer}.scale_base")
        scale_sp = get(f"act_fun.{layer}.scale_sp")
        for key, value in (("mask", mask), ("scale_base", scale_base), ("scale_sp", scale_sp)):
            if value.shape != coef.shape[:2]:
                raise SharekanError(f"{source}: {prefix}act_fun.{layer}.{key} has shape {tuple(value.shape)}, expected {tuple(coef.shape[:2])}")
        # pykan computes node_scale * (subnode_scale * y + subnode_bias) + node_bias.
        sub_scale, sub_bias = get(f"subnode_scale_{layer}"), get(f"subnode_bias_{layer}")
        node_scale, node_bias = get(f"node_scale_{layer}"), get(f"node_bias_{layer}")
        for key, value in zip(("subnode_scale", "subnode_bias", "node_scale", "node_bias"),
                              (sub_scale, sub_bias, node_scale, node_bias)):
            if value.shape != coef.shape[1:2]:
                raise SharekanError(f"{source}: {prefix}{key}_{layer} has shape {tuple(value.shape)}, expected ({coef.shape[1]},)")
        grid, coef = zero_constant_inputs(get(f"act_fun.{layer}.grid"), coef, f"{prefix}act_fun.{layer}.grid", source)
        ours = f"layers.{layer}."
        converted[ours + "grid"] = grid
        converted[ours + "spline_weight"] = coef.permute(1, 0, 2).contiguous()
        converted[ours + "base_weight"] = (scale_base * mask).t().contiguous()
        converted[ours + "spline_scaler"] = (scale_sp * mask).t().contiguous()
        converted[ours + "output_scale"] = node_scale * sub_scale
        converted[ours + "output_bias"] = node_scale * sub_bias + node_bias
    return converted, used


def zero_constant_inputs(grid: torch.Tensor, coef: torch.Tensor, key: str,
                         source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(grid, coef) with every all-equal knot row replaced by an increasing row around its value and that
    input's coefficients set to 0, which evaluates as pykan does; other rows are left for the caller to check."""
    if grid.dim() != 2 or grid.shape[0] != coef.shape[0] or grid.shape[1] < 2:
        raise SharekanError(f"{source}: {key} has shape {tuple(grid.shape)}, expected ({coef.shape[0]}, knots)")
    constant = (grid == grid[:, :1]).all(dim=1) & torch.isfinite(grid[:, 0])
    if not bool(constant.any()):
        return grid, coef
    centre = grid[constant, :1]
    offsets = torch.linspace(-1.0, 1.0, grid.shape[1])
    grid, coef = grid.clone(), coef.clone()
    grid[constant] = centre + offsets * centre.abs().clamp_min(1.0)  # strictly increasing in float32 at any centre
    coef[constant] = 0.0
    return grid, coef


def pykan_state(model: KAN) -> dict[str, torch.Tensor]:
    """``model`` as a pykan ``MultKAN`` state dict (the ``_state`` of ``saveckpt``): loads strictly into
    ``KAN(width=widths, grid=G, k=k, base_fun=...)``; the per-output affine is its subnode scale and bias."""
    if model.config.base_activation not in PYKAN_BASE_FUNCTIONS:
        raise SharekanError(f"the base activation is {model.config.base_activation!r}; pykan's base_fun offers "
                            f"{', '.join(PYKAN_BASE_FUNCTIONS)}")
    tables: dict[str, torch.Tensor] = {}
    state: dict[str, torch.Tensor] = {}
    for index, layer in enumerate(model.layers):
        out_f, in_f = layer.out_features, layer.in_features
        tables.update({f"node_bias_{index}": torch.zeros(out_f), f"node_scale_{index}": torch.ones(out_f),
                       f"subnode_bias_{index}": layer.output_bias.detach().clone(),
                       f"subnode_scale_{index}": layer.output_scale.detach().clone()})
        state.update({f"act_fun.{index}.grid": layer.grid.detach().clone(),
                      f"act_fun.{index}.coef": layer.spline_weight.detach().permute(1, 0, 2).contiguous(),
                      f"act_fun.{index}.mask": torch.ones(in_f, out_f),
                      f"act_fun.{index}.scale_base": layer.base_weight.detach().t().contiguous(),
                      f"act_fun.{index}.scale_sp": layer.spline_scaler.detach().t().contiguous(),
                      f"symbolic_fun.{index}.mask": torch.zeros(out_f, in_f),
                      f"symbolic_fun.{index}.affine": torch.zeros(out_f, in_f, 4)})
    return {**tables, **state}
