"""Sweeps on Dask distributed: a 2-worker LocalCluster returns exactly the serial sweep, in job order."""
import json

from conftest import prototype_kan
from test_experiments import agreement_metric

from sharekan_core.compression import CompressionConfig
from sharekan_core.experiments.sweep import SweepJob, dask_client, run_jobs, run_on_client, sharekan_jobs


def test_two_worker_cluster_matches_serial_sweep():
    model = prototype_kan((10, 8, 3), prototypes=30, seed=0)
    metric = agreement_metric(model)
    jobs = sharekan_jobs([8], bits=[32, 4], seeds=[0, 1], sparsities=[0.3])
    jobs += [SweepJob("sharekan", CompressionConfig(codebook_size=4, bits=8, seed=s)) for s in (2, 0)]
    serial = run_jobs(model, metric, jobs, scheduler="serial")
    messages = []
    # In-process workers (processes=False): starting two worker processes that import torch costs
    # seconds per test on a 2-core machine; the scheduling, scatter and ordering paths are the same.
    with dask_client(workers=2, processes=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        distributed = run_on_client(client, model, metric, jobs, progress=lambda f, m: messages.append(f))
    assert distributed == serial
    assert [p.method for p in distributed] == [j.method for j in jobs]
    assert messages[-1] == 1.0 and len(messages) == len(jobs) + 1

    assert [p.seed for p in distributed[-2:]] == [2, 0]


def test_sweep_command_on_a_running_cluster(tmp_path, capsys):
    from sharekan_core.cli.main import main
    from sharekan_core.studio.settings import settings

    digits = settings().models_dir / "digits_kan.safetensors"
    arguments = ["sweep", str(digits), "--ks", "16", "--bits", "4", "--seeds", "0", "1", "--sparsities", "0.5"]
    serial, remote = tmp_path / "serial.json", tmp_path / "remote.json"
    assert main([*arguments, "--serial", "--out", str(serial)]) == 0
    with dask_client(workers=2, processes=False) as client:  # in-process workers, reached by address
        assert main([*arguments, "--scheduler", client.scheduler.address, "--out", str(remote)]) == 0
    assert json.loads(remote.read_text())["points"] == json.loads(serial.read_text())["points"]
    assert main([*arguments, "--serial", "--workers", "2", "--out", str(remote)]) == 2
    assert "drop --scheduler" in capsys.readouterr().err
