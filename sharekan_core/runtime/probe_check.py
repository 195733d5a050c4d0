"""Checks for in-place imports by probing: the imported module must compute what the live module computes on probe
inputs, and a live activation is named by what it computes, never by how it prints.

A live layer's tensors can look like a family's while its forward differs (another copy of the library, a
changed activation); its import is refused then rather than compressed into something else."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import SharekanError
from ..model.kan import BASE_ACTIVATIONS

PROBE_ROWS, PROBE_TOLERANCE = 16, 1e-4  # probe inputs, and the largest error relative to the live output's scale
# Where an activation is probed: it must equal one of BASE_ACTIVATIONS here to be reproduced by name.
_PROBE = torch.linspace(-8.0, 8.0, 321, dtype=torch.float64)


def refuse_unless_reproduced(live: nn.Module, imported: nn.Module, probe: torch.Tensor, refusal: str) -> None:
    """Raise SharekanError(``refusal``) unless ``imported(probe)`` equals ``live(probe)`` within PROBE_TOLERANCE of
    the live output's largest magnitude (NaN, a shape mismatch or a forward that raises are refused too)."""
    try:
        with torch.no_grad():
            want, got = live(probe), imported(probe)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise SharekanError(f"{refusal} (its forward raised {type(exc).__name__})") from None
    if want.shape != got.shape:
        raise SharekanError(refusal)
    scale = float(want.abs().max())
    if not float((got.double() - want.double()).abs().max()) <= PROBE_TOLERANCE * scale:  # NaN fails too
        raise SharekanError(refusal)


def reproduced_activation(function: Callable | None, what: str) -> str:
    """The name in BASE_ACTIVATIONS of the activation ``function`` (a torch function or module), found by running it
    on a probe: only one it equals there is reproduced, so a scaled or re-parameterised activation is refused."""
    try:
        with torch.no_grad():
            values = function(_PROBE.clone())
    except (TypeError, RuntimeError, ValueError):
        values = None
    for candidate, reference in BASE_ACTIVATIONS.items():
        if isinstance(values, torch.Tensor) and values.shape == _PROBE.shape \
                and torch.allclose(values.to(torch.float64), reference(_PROBE), rtol=0.0, atol=1e-12):
            return candidate
    raise SharekanError(f"{what} {function!r} is not one this tool reproduces (torch's, at their defaults: "
                        f"{', '.join(BASE_ACTIVATIONS)})")
