"""Uploads in the studio: file names made safe before touching disk, every failure one plain line, content keys."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from sharekan_core.errors import SharekanError
from sharekan_core.io import save_model
from sharekan_core.studio.messages import CODE_REFUSED, plain_message
from sharekan_core.studio.models import MAX_NAME_CHARS, content_key, read_upload, safe_filename

SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


@hypothesis_settings(max_examples=100, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_any_name_becomes_a_short_safe_name(name):
    safe = safe_filename(name)
    assert SAFE.fullmatch(safe), safe
    assert len(safe.encode()) <= MAX_NAME_CHARS and safe not in (".", "..")


@pytest.mark.parametrize("name, expected", [
    ("..", "upload"), ("../../etc/passwd", "passwd"), ("a\x00b.safetensors", "b.safetensors"),
    ("my kan (v2).pt", "my_kan_v2.pt"), ("model_state", "model_state"), ("." * 5 + ".pth", "upload.pth"),
])
def test_hostile_names_are_reduced(name, expected):
    assert safe_filename(name) == expected


def test_long_names_keep_their_checkpoint_suffix():
    safe = safe_filename("k" * 300 + ".safetensors")
    assert safe.endswith(".safetensors") and len(safe) == MAX_NAME_CHARS


@pytest.mark.parametrize("name", ["..", "é" * 200 + ".safetensors", "bad\x00name.safetensors", "/", ""])
def test_a_good_model_loads_under_any_name(name, tmp_path, small_kan):
    save_model(small_kan, tmp_path / "m.safetensors")
    loaded = read_upload(name, (tmp_path / "m.safetensors").read_bytes())
    assert loaded.model.num_edges == small_kan.num_edges


def pykan_state(tmp_path) -> bytes:
    """A real torch zip checkpoint in pykan's key layout is not needed: any torch zip exercises the config path."""
    import torch

    torch.save({"act_fun.0.coef": torch.zeros(2, 3, 4)}, tmp_path / "m_state")
    return (tmp_path / "m_state").read_bytes()


@pytest.mark.parametrize("config", [b"\xff\xfe\x00not utf-8 \x80\x81", b"width: " + b"[" * 5000 + b"]" * 5000,
                                    b"width: 5", b": : :\n\t- ["])
def test_hostile_pykan_configs_give_one_plain_line(config, tmp_path):
    with pytest.raises(Exception) as raised:
        read_upload("mykan_state", pykan_state(tmp_path), config)
    message = plain_message(raised.value, "mykan_state")
    assert "\n" not in message and "Error" not in message and "Traceback" not in message
    assert message.count("mykan_state") == 1


def test_an_empty_file_is_called_empty():
    with pytest.raises(SharekanError, match="empty"):
        read_upload("model.pt", b"")


def test_code_in_a_checkpoint_is_refused_without_suggesting_the_unsafe_load():
    error = SharekanError("x.pt: Weights only load failed. Re-running `torch.load` with `weights_only` set to "
                          "`False` will likely succeed, but it can result in arbitrary code execution.")
    message = plain_message(error, "x.pt")
    assert message == f"x.pt {CODE_REFUSED}."
    assert "weights_only" not in message and "False" not in message


def test_messages_drop_ansi_escapes_class_names_and_repeated_file_names():
    assert plain_message(SharekanError("m.pt: m.pt: \x1b[31mtruncated\x1b[0m file"), "m.pt") == "m.pt: truncated file"
    assert plain_message(KeyError("layers.0"), "m.pt").startswith("m.pt could not be read")
    assert "KeyError" not in plain_message(KeyError("layers.0"))
    assert plain_message(RuntimeError("boom"), about_a_file=False).startswith("Stopped on an unexpected problem")


def test_content_keys_follow_the_bytes_not_the_name():
    assert content_key(b"model one") != content_key(b"model two")
    assert content_key(b"weights", b"config") != content_key(b"weights", b"other config")
    assert content_key(b"same") == content_key(b"same")


@pytest.mark.parametrize("weights_name", ["mykan_state", "my kan.pt"])
def test_pykan_config_errors_name_the_files_as_the_user_named_them(weights_name, tmp_path):
    """The config lands on disk as <prefix>_config.yml beside <prefix>_state; errors still say the uploaded names."""
    with pytest.raises(SharekanError) as raised:
        read_upload(weights_name, pykan_state(tmp_path), b": : :\n\t- [", config_name="iris settings.yaml")
    message = str(raised.value)
    assert "iris_settings.yaml" in message and "_config.yml" not in message, message
    assert "_state" not in message or weights_name.endswith("_state"), message


def test_a_bare_state_dict_loads_once_its_base_activation_is_stated(tmp_path, small_kan):
    import torch

    torch.save(small_kan.state_dict(), tmp_path / "ek.pt")
    payload = (tmp_path / "ek.pt").read_bytes()
    with pytest.raises(SharekanError, match="does not record its base activation.*'Base activation' in the studio"):
        read_upload("ek.pt", payload)
    loaded = read_upload("ek.pt", payload, base_activation="gelu")
    assert loaded.model.config.base_activation == "gelu" and loaded.source_format == "efficient-kan"


def test_a_billion_laughs_config_upload_is_one_short_line_naming_the_users_file(tmp_path):
    laughs = "\n".join(["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
                        + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)] + ["width: *a8"])
    with pytest.raises(SharekanError) as raised:
        read_upload("iris_state", pykan_state(tmp_path), laughs.encode(), config_name="iris settings.yml")
    message = plain_message(raised.value, "iris_state")
    assert "iris_settings.yml" in message and "once its aliases are expanded" in message and len(message) < 200


def test_an_upload_that_does_not_save_its_knots_reads_with_the_stated_grid():
    """Issue 28: a deep-kan state dict uploads once its grid (and base activation) is stated, as on the command line."""
    import importlib
    import importlib.util
    import io
    import sys
    import types
    from unittest import mock

    import torch

    if importlib.util.find_spec("deepkan") is None:
        pytest.skip("deep-kan is not installed")
    vision = types.ModuleType("torchvision")  # deep-kan imports torchvision for its MNIST example only
    vision.transforms = types.ModuleType("torchvision.transforms")
    with mock.patch.dict(sys.modules, {"torchvision": vision, "torchvision.transforms": vision.transforms}):
        deepkan = importlib.import_module("deepkan")
    torch.manual_seed(0)
    net = deepkan.DeepKAN(6, [4, 3], num_knots=4, spline_order=2, grid_range=[-1.5, 1.5])
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    with pytest.raises(SharekanError, match="my_deep.pt: a deep-kan file does not save its knots"):
        read_upload("my_deep.pt", buffer.getvalue(), base_activation="silu")
    loaded = read_upload("my_deep.pt", buffer.getvalue(), base_activation="silu", grid="4,2,-1.5,1.5")
    inputs = torch.rand(50, 6) * 2 - 1
    with torch.no_grad():
        want = net(inputs)
        assert float((loaded.model(inputs) - want).abs().max() / want.abs().max()) < 1e-5
