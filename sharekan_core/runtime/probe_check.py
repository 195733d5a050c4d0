"""One check for in-place imports: the imported module must compute what the live module computes on probe inputs.

A live layer's tensors can look like a family's while its forward differs (another copy of the library, a
changed activation); its import is refused then rather than compressed into something else."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import SharekanError

PROBE_ROWS, PROBE_TOLERANCE = 16, 1e-4  # probe inputs, and the largest error relative to the live output's scale


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
