"""The decoding benchmark runs on a tiny model and reports both contenders
and their ratio (no timing thresholds: machines differ)."""

import json

from benchmarks import decoding_speed


def test_decoding_benchmark_runs_tiny(tmp_path, capsys):
    out = tmp_path / "figures.json"
    status = decoding_speed.main([
        "--vocab", "11", "--d-model", "8", "--d-ff", "8", "--n-layers", "1",
        "--n-heads", "2", "--batch", "3", "--prefix", "2", "--tokens", "4",
        "--rounds", "1", "--json", str(out)])
    assert status == 0
    text = capsys.readouterr().out
    assert "accelerate=True" in text and "accelerate=False" in text
    assert "ratio accelerated / eager" in text
    figures = json.loads(out.read_text())
    assert figures["same_tokens"] is True
    assert figures["config"]["tokens"] == 4
    rates = figures["tokens_per_s"]
    assert rates["accelerated"] > 0 and rates["eager"] > 0
    assert figures["accelerated_over_eager"] == (
        rates["accelerated"] / rates["eager"])
