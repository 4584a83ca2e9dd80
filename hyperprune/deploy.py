"""From a run directory to a compressed model file and back: what a small device gets.

    export(run_dir, level, bits, out)    level K's trained, pruned weights at k bits, as .hpz
    file_tensors(model, masks, bits)     what a file holds, and the model computing exactly it
    load(path)                           the model a file holds (verified), and its header
    evaluate_file(path)                  accuracy (perplexity for language models) and bytes
    size_report(...)                     bytes on disk against the information bound

The trained weights of a level are kept by the runner (weights/level_KK.npz, not
committed); for a level without them (runs made before) export replays the level -- its
mask and θ0 are in the run directory, training is deterministic -- in a temporary
directory, checks that the replay reproduces the level's record exactly, and keeps the
weights where the runner would have put them.
"""
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import backend, io, lottery, modelfile, models, prune, quantize
from .config import LotteryConfig
from .rundir import RunDir
from .train import evaluate


def level_weights(run_dir, level, data_dir=None):
    """The state dict the run's level ended training with (replayed if not kept)."""
    run = RunDir(run_dir)
    if not run.level_path(level).exists():
        raise FileNotFoundError(f"{run.level_path(level)} is missing: level {level} of "
                                f"{run.path} has not finished")
    if run.weights_path(level).exists():
        return io.load_npz(run.weights_path(level))
    return _replay(run, level, data_dir)


def _replay(run, level, data_dir):
    config = LotteryConfig.from_dict({**run.read_config(), "levels": level})
    with tempfile.TemporaryDirectory(prefix="hyperprune_replay_") as tmp:
        tmp = RunDir(tmp)
        for k in range(level):
            tmp.level_path(k).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(run.level_path(k), tmp.level_path(k))
        for k in (level - 1, level):
            if k >= 0 and run.mask_path(k).exists():
                tmp.mask_path(k).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(run.mask_path(k), tmp.mask_path(k))
        lottery.LotteryRun(config, tmp.path, data_dir, quiet=True).run()
        want, got = run.read_level(level), tmp.read_level(level)
        for record in (want, got):
            record["summary"].pop("seconds", None)
        if want["summary"] != {k: got["summary"].get(k) for k in want["summary"]}:
            raise ValueError(f"replaying level {level} of {run.path} did not reproduce its "
                             "record (another numeric stack?): its weights cannot be rebuilt")
        weights = io.load_npz(tmp.weights_path(level))
    io.save_npz(run.weights_path(level), weights)         # kept: a level is replayed once
    return weights


def run_model(run_dir, level, data_dir=None, weights=None):
    """(config, model with the level's trained weights, the level's masks); `weights`, a
    state dict from level_weights, saves a second replay when a level is used again."""
    run = RunDir(run_dir)
    config = LotteryConfig.from_dict(run.read_config()).validate()
    model = lottery.build_model(config)
    model.load_state_dict(weights if weights is not None
                          else level_weights(run_dir, level, data_dir))
    masks = prune.Masks.ones(model, config.scope) if level == 0 and \
        config.control != "reinit" else prune.Masks.load(
            (RunDir(config.masks_from) if config.control == "reinit" else run).mask_path(level))
    masks.verify(model, config.scope, run.mask_path(level))
    return config, model, masks


def _mask(masks, name, shape):
    """The mask of parameter `name` (all ones for a layer the masks do not cover)."""
    layer_name = name.rsplit(".", 1)[0] if "." in name else ""
    if masks is not None and name.endswith("weight") and layer_name in masks:
        return masks[layer_name]
    return np.ones(shape, bool)


def file_tensors(model, masks, bits, granularity="unit"):
    """({name: tensor for modelfile.write}, the model set to exactly those values).

    bits 2..8 (or 1): every prunable weight (pruned or not: a transformer's MLP is coded
    too) as k-bit codes of its survivors with their scales, learned PHM rules per tensor;
    every other parameter and buffer as float16.  bits 32: everything float32, prunable
    weights as their survivors (a float export)."""
    coded = quantize.quantized_parameters(model)
    tensors, state = {}, dict(model.state_dict())
    quantized = {} if bits == 32 else quantize.quantize_model(model, masks, bits, granularity)
    for name, value in state.items():
        if name in coded and bits == 32:
            mask = _mask(masks, name, value.shape)
            tensors[name] = dict(kind="coded", shape=value.shape, bits=32, mask=mask,
                                 codes=value.astype(np.float32) * mask)
            state[name] = tensors[name]["codes"]
        elif name in coded:
            q = quantized[name]
            m = quantize.grid_max(bits)
            tensors[name] = dict(kind="coded", shape=value.shape, bits=bits, mask=q.mask,
                                 codes=q.codes, scale=q.scale, offset=0 if bits == 1 else m)
            if bits == 1:                              # codes -1, +1 -> bits 0, 1
                tensors[name]["codes"] = (q.codes + 1) // 2
                tensors[name]["offset"] = 0
            state[name] = q.values
        else:
            kind = "float32" if bits == 32 else "float16"
            tensors[name] = dict(kind=kind, shape=value.shape, array=value)
            state[name] = value.astype(np.float16 if kind == "float16" else np.float32) \
                .astype(np.float32)
    model.load_state_dict(state)
    return tensors, model


def export(run_dir, level, bits, out, granularity="unit", data_dir=None):
    """Write level `level` of a run at `bits` (1-8, or 32 for float) to `out`; returns
    (bytes, the in-memory model that computes exactly what the file holds)."""
    config, model, masks = run_model(run_dir, level, data_dir)
    tensors, model = file_tensors(model, masks, bits, granularity)
    size = modelfile.write(out, file_spec(config, level, bits, granularity, run_dir), tensors)
    return size, model


def file_spec(config, level, bits, granularity, source):
    """The header's model description: the settings that differ from the defaults (they
    rebuild the model), the level, bits, granularity and the run it came from."""
    defaults = LotteryConfig().to_dict()
    return {"config": {k: v for k, v in config.to_dict().items() if defaults[k] != v},
            "level": level, "bits": bits, "granularity": granularity, "source": str(source)}


def load(path):
    """(model, header): the model a file holds, rebuilt and loaded, after verification."""
    header, arrays = modelfile.read(path)
    config = LotteryConfig.from_dict(header["model"]["config"]).validate()
    with backend.use_backend(dtype="float32"):
        model = lottery.build_model(config)
    expected = dict(model.state_dict())
    if set(expected) != set(arrays) or any(expected[k].shape != arrays[k].shape
                                           for k in expected):
        wrong = sorted(k for k in set(expected) | set(arrays)
                       if k not in arrays or k not in expected
                       or expected[k].shape != arrays[k].shape)
        raise modelfile.ModelFileError(
            f"{path}: its tensors do not fit the architecture it names ({config.model}, "
            f"{config.algebra}): {wrong[:6]}")
    model.load_state_dict(arrays)
    return model, header


def evaluate_model(model, config, data_dir=None):
    """{"accuracy"} or, for a language model, {"perplexity"} (and "loss") on the test
    split (the validation sample for tiny Shakespeare, which has no test split)."""
    task = lottery.make_task(config, data_dir)
    loss, accuracy = evaluate(model, *task.test, task.eval_batch_size, task.prepare)
    if models.get_family(config.model).language_model:
        return {"perplexity": math.exp(loss), "loss": loss}
    return {"accuracy": accuracy, "loss": loss}


def evaluate_file(path, data_dir=None):
    model, header = load(path)
    config = LotteryConfig.from_dict(header["model"]["config"]).validate()
    result = evaluate_model(model, config, data_dir)
    result.update(bytes=Path(path).stat().st_size, bits=header["model"]["bits"],
                  level=header["model"]["level"], model=config.model,
                  algebra=config.algebra)
    return result


def size_report(model, masks, bits, path):
    """{"bytes": on disk, "dense_float32": every parameter as float32, "bound": the
    information bound of the coded weights -- sum over layers of N H(d)/8 + nnz k/8 -- plus
    the other parameters at their stored width; "ratio": bytes / bound}."""
    coded = quantize.quantized_parameters(model)
    state = model.state_dict()
    bound = 0.0
    for name, value in state.items():
        if name in coded:
            mask = _mask(masks, name, value.shape)
            nnz = int(mask.sum())
            bound += modelfile.entropy_bits(mask.size, nnz) / 8 + nnz * bits / 8
        else:
            bound += value.size * (4 if bits == 32 else 2)
    size = Path(path).stat().st_size
    dense = 4 * sum(v.size for v in state.values())
    return {"bytes": size, "dense_float32": dense, "bound": round(bound, 1),
            "ratio": size / bound}


def save_json_result(path, result):
    io.save_text(path, json.dumps(result, indent=2, sort_keys=True) + "\n")


def quantization_aware(config, model, masks, bits, iterations, lr=None, granularity="unit",
                       data_dir=None, seed=0):
    """Fine-tune a trained (pruned) model with fake-quantized weights (QAT) for
    `iterations` steps of its own training data, masks held, Adam at `lr` (default a
    tenth of the run's); returns the model, its fake quantization detached."""
    from . import optim
    from .train import train_step
    task = lottery.make_task(config, data_dir)
    quantize.attach_fake_quant(model, masks, bits, granularity)
    opt = optim.Adam(model.parameters(), lr=lr or config.lr / 10)
    stream = task.batches(seed, 0, config.batch_size)
    for _ in range(iterations):
        xb, yb = next(stream)
        train_step(model, opt, masks, xb, yb, config.grad_clip)
    return quantize.detach_fake_quant(model)
