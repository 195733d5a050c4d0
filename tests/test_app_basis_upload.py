"""The Model page with an uploaded ChebyKAN net (a global-basis family, LayerNorm between its layers): the page asks
for what the state dict does not record, then shows the net, compresses it on the page and offers the compressed
file, which the library reads back; the model the other pages use is left as it was."""
from __future__ import annotations

from pathlib import Path

import torch
from efficient_kan_reference import train
from other_basis_reference import ChebyKANLayer
from streamlit.testing.v1 import AppTest
from torch import nn

import sharekan_core as sk
from digits_net import digits_tensors
from sharekan_core.studio.session import SESSION_KEY, UPLOAD

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 300


def test_a_chebykan_upload_is_shown_and_compressed_on_the_model_page(tmp_path):
    pixels, labels = digits_tensors(300)
    torch.manual_seed(0)
    net = train(nn.Sequential(ChebyKANLayer(64, 16), nn.LayerNorm(16), ChebyKANLayer(16, 10)), pixels, labels, steps=15)
    torch.save(net.state_dict(), tmp_path / "cheby.pt")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/model.py").run()
    at.radio[0].set_value(UPLOAD).run()
    at.file_uploader[0].upload("my cheby.pt", (tmp_path / "cheby.pt").read_bytes()).run()
    assert "1.weight, 1.bias sit between the ChebyKAN layers" in at.error[0].value
    assert "'Between the layers' in the studio" in at.error[0].value
    at.selectbox(key="upload_between").set_value("layernorm").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert "as a ChebyKAN net at prefix '(top level)'" in at.success[0].value
    shown = {m.label: m.value for m in at.metric}
    assert shown["Architecture"] == "64 → 16 → 10" and shown["Edges"] == "1,184"
    layers = at.dataframe[0].value
    assert list(layers["basis functions"]) == [5, 5] and list(layers["then"]) == ["LayerNorm", ""]
    at.selectbox(key="basis_k").set_value(32).run()
    at.selectbox(key="basis_bits").set_value(4).run()
    next(button for button in at.button if button.label == "Compress this net").click().run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    done = at.session_state[SESSION_KEY].basis_compression
    assert (done.codebook_size, done.bits) == (32, 4)
    assert shown["Smaller by"] == f"{done.report['ratio']:.1f}x" and done.report["ratio"] > 3
    assert [b.proto.label for b in at.get("download_button")] == ["Download the compressed file (.skan)"]
    (tmp_path / "coded.skan").write_bytes(done.encoded)
    stored = sk.load_basis_kan(tmp_path / "coded.skan")
    assert stored.family == "ChebyKAN" and stored.layers[0].codebook.shape == (32, 5)
    with torch.no_grad():  # the file runs, and decides mostly as the dense net does
        coded = sk.load_runnable(tmp_path / "coded.skan").module(pixels)
        agreement = float((coded.argmax(1) == net(pixels).argmax(1)).float().mean())
    assert agreement > 0.8, agreement
    assert at.session_state[SESSION_KEY].upload is None  # not made the model the other pages work on
