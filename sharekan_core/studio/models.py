"""Which models the studio offers (shipped files and uploads) and the facts the Model page shows."""
from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..errors import SharekanError
from ..format.accounting import dense_storage
from ..io import LoadedModel, read_model
from ..fidelity import coefficient_statistics
from ..model import KAN
from ..summary import model_summary  # noqa: F401 (the Model page's facts)
from ..paths import ShippedModel, shipped_models, shipped_path  # noqa: F401 (the pages')

MAX_UPLOAD_BYTES = 512 * 2**20
UPLOAD_SUFFIXES = (".safetensors", ".pt", ".pth", "_state")
MAX_NAME_CHARS = 80
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ChosenModel:
    """The model a session works on: its content key, a display label, the loaded model, its task."""

    key: str
    label: str
    loaded: LoadedModel

    @property
    def task(self) -> str | None:
        return self.loaded.metadata.get("task")


def content_key(*payloads: bytes) -> str:
    """A key for what a session keeps about a model: the SHA-256 of its bytes (config included), shortened."""
    digest = hashlib.sha256()
    for payload in payloads:
        digest.update(hashlib.sha256(payload).digest())
    return f"sha256:{digest.hexdigest()[:24]}"


@lru_cache(maxsize=16)
def _file_key(path: str, mtime_ns: int, size: int) -> str:
    return content_key(Path(path).read_bytes())


def file_key(path: str | Path) -> str:
    """``content_key`` of the file at ``path``, hashed once per version of the file."""
    stat = Path(path).stat()
    return _file_key(str(path), stat.st_mtime_ns, stat.st_size)


def safe_filename(filename: str, default: str = "upload") -> str:
    """``filename`` reduced to a short name safe on any disk: its last path part, only [A-Za-z0-9._-],
    no leading dots, at most ``MAX_NAME_CHARS`` characters, keeping a known checkpoint suffix."""
    base = re.split(r"[/\\\x00]", str(filename))[-1]
    base = UNSAFE_NAME_CHARS.sub("_", base)
    suffix = next((s for s in (*UPLOAD_SUFFIXES, "_config.yml", ".yml", ".yaml", ".npy") if base.endswith(s)), "")
    stem = base[: len(base) - len(suffix)].strip("._-")[: MAX_NAME_CHARS - len(suffix)].rstrip("._-")
    return f"{stem or default}{suffix}"


def read_upload(filename: str, payload: bytes, config_yml: bytes | None = None,
                config_name: str | None = None, *, base_activation: str | None = None,
                prefix: str | None = None, grid: str | None = None, between: str | None = None) -> LoadedModel:
    """Load an uploaded checkpoint through ``read_model`` from a private temporary folder.

    The file lands on disk under ``safe_filename(filename)``. A pykan ``*_state`` file needs its
    ``*_config.yml`` beside it; pass it as ``config_yml`` and the name it was uploaded under as
    ``config_name``. Errors name both files as the user named them, not as they were stored.
    ``base_activation`` states what a bare efficient-kan or pykan state dict does not record, ``prefix`` picks
    the KAN inside a bigger model, ``grid`` states the knots of a family that does not save them (deep-kan) and
    ``between`` what sits between a FastKAN, ChebyKAN or Gram net's layers (see ``read_model``). Such a net loads
    as a ``BasisKAN`` (``studio.basis_nets`` shows and compresses it).
    """
    safe_name = given_name = safe_filename(filename)
    if not payload:
        raise SharekanError(f"{safe_name}: the file is empty")
    if len(payload) > MAX_UPLOAD_BYTES:
        raise SharekanError(f"{safe_name}: file is too large ({len(payload) / 2**20:.0f} MiB, limit "
                            f"{MAX_UPLOAD_BYTES / 2**20:.0f} MiB)")
    if config_yml is not None and not safe_name.endswith("_state"):
        safe_name = f"{Path(safe_name).stem}_state"  # pykan's own naming: <prefix>_state beside <prefix>_config.yml
    stored_config = f"{safe_name[: -len('_state')]}_config.yml"
    as_uploaded = {stored_config: safe_filename(config_name or stored_config), safe_name: given_name}
    with tempfile.TemporaryDirectory(prefix="sharekan-upload-") as folder:
        path = Path(folder) / safe_name
        path.write_bytes(payload)
        if config_yml is not None:
            (Path(folder) / stored_config).write_bytes(config_yml)
        try:
            loaded = read_model(path, prefix, base_activation, grid, basis=True, between=between)
        except SharekanError as error:
            raise SharekanError(renamed(str(error), as_uploaded)) from None
    if "adapter" in loaded.metadata:  # a detection head's adapter name is checked once, here, for every page
        from ..detection.weights import adapter_file  # deferred: the detection package is not a first-paint import

        adapter_file(loaded.metadata)
    return loaded


def file_parts(loaded: LoadedModel) -> pd.DataFrame:
    """What the file holds, one row per part: the KAN that was imported (its family and prefix), any other
    KAN it holds, and each module outside the KAN (a backbone's layers) by name, with its tensor count."""
    rows = [{"part": group["prefix"] or "(top level)", "tensors": None,
             "what": f"{group['family']} KAN, {group['layers']} layer{'s' * (group['layers'] != 1)}, "
                     + ("imported" if group["prefix"] == loaded.prefix else "not used (pick it with its prefix)")}
            for group in loaded.kan_groups]
    other_kans = tuple(group["prefix"] for group in loaded.kan_groups if group["prefix"] != loaded.prefix
                       and group["prefix"])
    modules: dict[str, int] = {}
    for key in loaded.keys_outside_prefix:
        if other_kans and key.startswith(other_kans):
            continue
        module = key.rpartition(".")[0] or key
        modules[module] = modules.get(module, 0) + 1
    rows += [{"part": module, "tensors": count, "what": "not a KAN: not imported, left as it is"}
             for module, count in modules.items()]
    return pd.DataFrame(rows, columns=["part", "what", "tensors"])


def renamed(message: str, names: dict[str, str]) -> str:
    """``message`` with every file name in ``names`` (as stored) replaced by its value (as uploaded), in one pass."""
    if not names:
        return message
    pattern = re.compile("|".join(re.escape(name) for name in sorted(names, key=len, reverse=True)))
    return pattern.sub(lambda match: names[match.group(0)], message)


def layer_table(model: KAN) -> pd.DataFrame:
    """One row per layer: shape, edges, dense bytes and the coefficient statistics reviewers asked for."""
    dense = dense_storage(model)
    rows = []
    for stats in coefficient_statistics(model):
        out_features, in_features, coefficients = stats["shape"]
        rows.append({
            "layer": stats["layer"],
            "in -> out": f"{in_features} -> {out_features}",
            "edges": stats["edges"],
            "dense KB": sum(dense[str(stats["layer"])].values()) / 1e3,
            "coef mean": stats["mean"],
            "coef std": stats["std"],
            "excess kurtosis": stats["kurtosis"],
            "coef min": stats["min"],
            "coef max": stats["max"],
            "|coef| p99": stats["abs_p99"],
            "gain median": stats["gain_median"],
            "gain p99": stats["gain_p99"],
            "support": f"[{stats['grid_min']:.3g}, {stats['grid_max']:.3g}]",
        })
    return pd.DataFrame(rows)


def format_bytes(size: float) -> str:
    """Human-readable decimal size: 1.23 MB, 456 kB, 78 B."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(size) >= scale:
            value = size / scale
            return f"{value:,.{2 if abs(value) < 10 else 1 if abs(value) < 100 else 0}f} {unit}"
    return f"{size:,.0f} B"


def results_stem(model_key: str) -> str | None:
    """The saved-results file stem of the shipped model whose path or content key is ``model_key``; None for
    uploads."""
    return next((model.results_stem for model in shipped_models()
                 if model_key in (str(model.path), file_key(model.path))), None)


def shipped_detection_head() -> ShippedModel | None:
    """The shipped KAN detection head, once it exists."""
    return next((model for model in shipped_models() if model.task == "detection"), None)
