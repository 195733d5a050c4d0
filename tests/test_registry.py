"""compression/registry.py: each config registers itself and its handler; the CLI's options come from the fields."""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import ClassVar

import pytest

import sharekan_core as sk
from sharekan_core.cli.main import build_parser
from sharekan_core.cli.method_options import method_config, method_names
from sharekan_core.compression import registry
from sharekan_core.compression.compressed import CompressedKAN
from sharekan_core.compression.registry import (config_fields, handler_for, method_configs, register_config,
                                                register_handler)
from sharekan_core.errors import SharekanError


def compress_args(*options: str):
    return build_parser().parse_args(["compress", "model.safetensors", *options, "--out", "x.skan"])


def option_dests(parser) -> set[str]:
    compress = parser._subparsers._group_actions[0].choices["compress"]  # argparse keeps subparsers here
    return {action.dest for action in compress._actions}


def test_the_built_in_methods_are_registered_with_a_handler_each():
    assert list(method_configs()) == ["sharekan", "uniform", "gptq", "kmeans", "prune"]
    for config_type in method_configs().values():
        assert handler_for(config_type()) is not None


def test_every_handler_has_the_one_signature():
    """(model, config, *, calibration, progress, metadata): ``compress`` passes the last three by keyword."""
    handler_for(sk.CompressionConfig())  # imports the built-in handlers
    for handler in registry.HANDLERS.values():
        parameters = inspect.signature(handler).parameters
        assert list(parameters) == ["model", "config", "calibration", "progress", "metadata"], handler
        assert all(parameters[name].kind == inspect.Parameter.KEYWORD_ONLY for name in ("progress", "metadata"))


@pytest.mark.parametrize("method", ["sharekan", "uniform", "gptq", "kmeans", "prune"])
def test_every_registered_method_and_each_of_its_fields_is_reachable_from_the_command_line(method):
    config_type = method_configs()[method]
    assert method in method_names()
    assert set(config_fields(config_type)) <= option_dests(build_parser())
    size = ["-K", "8"] if "codebook_size" in config_fields(config_type) else []
    config = method_config(compress_args("--method", method, *size))
    assert type(config) is config_type
    defaults = {field.name: field.default for field in dataclasses.fields(config_type)}
    assert {name: getattr(config, name) for name in defaults if name != "codebook_size"} == \
        {name: value for name, value in defaults.items() if name != "codebook_size"}  # the config's own defaults


def test_command_line_options_reach_the_config_fields():
    config = method_config(compress_args("-K", "16", "--bits", "4", "--unweighted", "--no-refit", "--spherical",
                                         "--kmeans-method", "flat", "--layer-bits", "8,4", "--scope", "global"))
    assert (config.codebook_size, config.bits, config.weighted, config.refit_gain, config.spherical,
            config.kmeans_method, config.layer_bits, config.scope) == (16, 4, False, False, True, "flat", (8, 4), "global")
    assert method_config(compress_args("--method", "gptq", "--damping", "0.1", "--group-size", "2")).damping == 0.1
    with pytest.raises(SharekanError, match="--sparsity does not apply to --method uniform"):
        method_config(compress_args("--method", "uniform", "--sparsity", "0.5"))
    with pytest.raises(SharekanError, match="--calibration does not apply to --method prune"):
        method_config(compress_args("--method", "prune", "--calibration", "x.npy"))


def test_a_config_registered_in_a_test_is_dispatched_and_on_the_command_line(monkeypatch, proto_kan):
    monkeypatch.setattr(registry, "CONFIGS", dict(method_configs()))
    monkeypatch.setattr(registry, "HANDLERS", dict(registry.HANDLERS))
    calls = []

    @register_config
    @dataclass(frozen=True)
    class HalfConfig:
        method: ClassVar[str] = "half"
        choices: ClassVar[dict[str, tuple]] = {"bits": (8, 16)}
        bits: int = 16
        keep_ratio: float = 0.5

        def component_bits(self, layer: int | None = None) -> dict[str, int]:
            return {"coefficients": self.bits}

    @register_handler(HalfConfig)
    def compress_half(model, config, *, calibration=None, progress=None, metadata=None) -> CompressedKAN:
        calls.append((config, metadata))
        return sk.compress(model, sk.UniformConfig(bits=8), metadata=metadata)

    assert method_configs()["half"] is HalfConfig
    sk.compress(proto_kan, HalfConfig(bits=8), metadata={"run": 1})
    assert calls == [(HalfConfig(bits=8), {"run": 1})]
    assert "half" in method_names() and "keep_ratio" in option_dests(build_parser())
    assert method_config(compress_args("--method", "half", "--keep-ratio", "0.25")) == HalfConfig(keep_ratio=0.25)


def test_an_unregistered_config_is_refused_by_name(proto_kan):
    @dataclass(frozen=True)
    class StrayConfig:
        method: ClassVar[str] = "stray"

    with pytest.raises(SharekanError, match="unknown compression config StrayConfig"):
        sk.compress(proto_kan, StrayConfig())


def test_a_method_name_is_registered_once():
    @dataclass(frozen=True)
    class Impostor:
        method: ClassVar[str] = "uniform"

    with pytest.raises(ValueError, match="already UniformConfig's"):
        register_config(Impostor)


def test_choices_are_checked_with_the_field_named():
    with pytest.raises(SharekanError, match="scope must be one of layer, global, got 'row'"):
        sk.CompressionConfig(scope="row")
    with pytest.raises(SharekanError, match="layer_bits must be one of 32, 16, 8, 4, got 5"):
        sk.CompressionConfig(layer_bits=(8, 5))
    with pytest.raises(SharekanError, match="bits must be one of"):
        sk.KMeansConfig(bits=8.0)


def test_the_compress_page_offers_the_config_s_own_choices_and_defaults():
    from sharekan_core.studio import compression as page
    assert page.BIT_CHOICES == sk.CompressionConfig.choices["bits"]
    assert page.SCOPE_CHOICES == sk.CompressionConfig.choices["scope"]
    assert page.DEFAULTS == sk.CompressionConfig()
    component_widths = {name for name, (kind, _) in config_fields(sk.CompressionConfig).items()
                        if name.endswith("_bits") and kind is int}
    assert set(page.COMPONENT_WIDTHS) == component_widths  # a new width field is offered or this fails


def test_every_registered_method_has_a_name_colour_and_note_on_the_charts():
    from sharekan_core.studio import tradeoffs
    for method in method_configs():
        name = tradeoffs.method_display_name(method)
        assert name in tradeoffs.METHOD_COLOURS and name in tradeoffs.METHOD_NOTES, method
