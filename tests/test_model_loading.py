"""cvdemo.models.load/save: formats, the Hub path offline, and refusal of bad or hostile checkpoints."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cvdemo.models
from cvdemo.models import DETR, CheckpointError, DETRConfig

TINY = dict(backbone="resnet18", frozen_batchnorm=True, d_model=32, num_heads=4, encoder_layers=2,
            decoder_layers=2, dim_feedforward=64, num_queries=5, num_classes=3,
            id2label={0: "circle", 1: "square", 2: "triangle"})


def _tiny_detr(**overrides) -> DETR:
    torch.manual_seed(0)
    return DETR(DETRConfig(**{**TINY, **overrides})).eval()


def _same_outputs(a, b, x):
    with torch.no_grad():
        oa, ob = a(x), b(x)
    torch.testing.assert_close(oa["pred_logits"], ob["pred_logits"], atol=0, rtol=0)
    torch.testing.assert_close(oa["pred_boxes"], ob["pred_boxes"], atol=0, rtol=0)


@pytest.mark.parametrize("position_embedding", ["sine", "learned"])
def test_save_then_load_gives_identical_outputs_and_labels(tmp_path, position_embedding):
    model = _tiny_detr(position_embedding=position_embedding)
    cvdemo.models.save(model, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "cvdemo-detr"
    loaded = cvdemo.models.load(tmp_path)
    assert not loaded.training
    assert loaded.config == model.config and loaded.config.id2label[1] == "square"
    _same_outputs(model, loaded, torch.randn(1, 3, 64, 96))



def test_save_in_half_precision_halves_the_file_and_loads_into_float32(tmp_path):
    from safetensors import safe_open

    model = _tiny_detr()
    cvdemo.models.save(model, tmp_path / "full")
    cvdemo.models.save(model, tmp_path / "half", dtype=torch.float16)
    sizes = [(tmp_path / d / "model.safetensors").stat().st_size for d in ("full", "half")]
    assert sizes[1] < 0.55 * sizes[0]
    with safe_open(tmp_path / "half" / "model.safetensors", "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert torch.float32 not in dtypes and torch.float16 in dtypes
    loaded = cvdemo.models.load(tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    for name, value in model.state_dict().items():
        expected = value.half().to(value.dtype) if value.is_floating_point() else value
        assert torch.equal(loaded.state_dict()[name], expected), name


def _to_original_detr_state_dict(model: DETR) -> dict:
    """Our names -> facebookresearch/detr's (packed in_proj, backbone.0.body, multihead_attn)."""
    out, sd = {}, model.state_dict()
    for key, value in sd.items():
        if ".q_proj." in key:
            prefix, kind = key.split(".q_proj.")
            out[f"{prefix}.in_proj_{kind}"] = torch.cat(
                [sd[f"{prefix}.{p}.{kind}"] for p in ("q_proj", "k_proj", "v_proj")])
        elif ".k_proj." in key or ".v_proj." in key:
            continue
        else:
            out[key.replace("backbone.body.", "backbone.0.body.").replace("position_embedding.", "backbone.1.")] = value
    out = {k.replace(".cross_attn.", ".multihead_attn."): v for k, v in out.items()}
    out["backbone.0.body.bn1.num_batches_tracked"] = torch.tensor(0)
    return out


def test_original_detr_pth_with_pickled_namespace_loads(tmp_path):
    model = _tiny_detr(position_embedding="learned")
    args = argparse.Namespace(backbone="resnet18", dilation=False, position_embedding="learned", nheads=4,
                              pre_norm=False, masks=False, dropout=0.1)
    path = tmp_path / "detr-tiny.pth"
    torch.save({"model": _to_original_detr_state_dict(model), "args": args, "epoch": 3}, path)
    loaded = cvdemo.models.load(path)
    assert loaded.config.num_heads == 4 and loaded.config.num_queries == 5 and loaded.config.num_classes == 3
    _same_outputs(model, loaded, torch.randn(2, 3, 64, 64))


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {_RunsCode.marker}",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    _RunsCode.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"model": {"transformer.x": torch.zeros(1)}, "payload": _RunsCode()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        cvdemo.models.load(path)
    assert not _RunsCode.marker.exists()


def test_corrupted_safetensors_is_a_clear_error(tmp_path):
    cvdemo.models.save(_tiny_detr(), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        cvdemo.models.load(tmp_path)


def test_mismatched_checkpoint_names_the_keys(tmp_path):
    cvdemo.models.save(_tiny_detr(), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "decoder_layers": 3, "num_classes": 4}))
    with pytest.raises(CheckpointError) as info:
        cvdemo.models.load(tmp_path)
    message = str(info.value)
    assert "missing keys: transformer.decoder.layers.2." in message
    assert "class_embed.weight: checkpoint (4, 32) vs model (5, 32)" in message


def test_unknown_format_and_pickled_bin_are_explained(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(CheckpointError, match="pickled weights are not loaded"):
        cvdemo.models.load(tmp_path)
    cvdemo.models.save(_tiny_detr(), tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="no format cvdemo knows"):
        cvdemo.models.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        cvdemo.models.load(tmp_path)
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        cvdemo.models.load(tmp_path / "missing")


def _make_hub_cache(cache: Path, repo_id: str, files: Path, commit: str = "0" * 40) -> None:
    """The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<commit>/...}."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in files.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())


def test_hub_source_loads_offline_from_a_local_cache(tmp_path):
    model = _tiny_detr()
    cvdemo.models.save(model, tmp_path / "files")
    _make_hub_cache(tmp_path / "cache", "someone/detr-tiny", tmp_path / "files")
    torch.save(model(torch.zeros(1, 3, 64, 64))["pred_logits"], tmp_path / "expected.pt")
    script = (
        "import torch, cvdemo.models\n"
        "m = cvdemo.models.load('hf:someone/detr-tiny')\n"
        f"expected = torch.load({str(tmp_path / 'expected.pt')!r}, weights_only=True)\n"
        "torch.testing.assert_close(m(torch.zeros(1, 3, 64, 64))['pred_logits'], expected)\n"
        "try:\n"
        "    cvdemo.models.load('hf:someone/not-cached')\n"
        "except cvdemo.models.CheckpointError as e:\n"
        "    assert 'not in the local Hugging Face cache' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('expected an error for an uncached model')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_importing_cvdemo_never_imports_gradio():
    script = (
        "import importlib, pkgutil, sys, cvdemo\n"
        "for m in pkgutil.walk_packages(cvdemo.__path__, 'cvdemo.'):\n"
        "    if '.ui' not in m.name and not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "assert 'gradio' not in sys.modules, 'gradio was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_converter_errors_name_the_checkpoint(tmp_path):
    cvdemo.models.save(_tiny_detr(), tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(
        {"architecture": "convnext_tiny", "num_classes": 10, "num_features": 768, "pretrained_cfg": {}}))
    with pytest.raises(CheckpointError, match="is not a ViT or DeiT") as info:
        cvdemo.models.load(tmp_path)
    assert "deit_tiny_patch16_224" in str(info.value)  # the supported architectures are listed
    (tmp_path / "config.json").write_text(json.dumps(
        {"architecture": "vit_base_patch16_rope_224", "num_classes": 10, "num_features": 768}))
    with pytest.raises(CheckpointError, match=str(tmp_path)) as info:  # the converter's ValueError, wrapped
        cvdemo.models.load(tmp_path)
    assert "vit_base_patch16_rope_224" in str(info.value)
