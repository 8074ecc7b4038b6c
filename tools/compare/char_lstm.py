#!/usr/bin/python3
"""The same character-level language model trained in graphgrad and in PyTorch, and its
weights carried both ways.

  1. Data: the vocabulary rule, split, stream batching and window order of graphgrad's io/
     (vocabulary.cpp, text_corpus.cpp), written again here: "<unk>" = 0, then every code point
     of the text sorted; 90 / 5 / 5 % contiguous split (`--split-blocks 1`); B streams of len // B tokens; window w
     is steps [wT, wT + T) of every stream, targets one step on.
  2. Model: nn.Embedding → nn.LSTM (or GRU, tanh RNN) → nn.Linear, named like graphgrad's
     build_char_model (embedding.weight, rnn.weight_ih_l0, ..., decoder.weight).
  3. Initial weights: PyTorch's, written as a graphgrad checkpoint with the metadata graphgrad's
     language-model checkpoints carry (vocabulary JSON, model and options); `graphgrad train
     --init` starts from it, and checks that vocabulary against its own reading of the text.
  4. The same steps, Adam, gradient clipping and truncated BPTT with carried (detached)
     states in both; then validation bits per character on the same windows, step times, and
     how far the trained weights drifted apart.
  5. Round trip: PyTorch's trained weights → `graphgrad logits`, and graphgrad's trained
     checkpoint → PyTorch (load_state_dict strict), on validation tokens from random initial
     states: logits [T, B, V] and final states must agree.

    /usr/bin/python3 tools/compare/char_lstm.py [--cell lstm|gru|rnn] [--steps 200] [--text FILE]
    /usr/bin/python3 tools/compare/char_lstm.py --quick --text README.md   # small sizes (ctest)
tools/compare/char_lstm.sh runs it under PyTorch's fastest environment. Exit status 0 when
every figure is within tolerance, 1 otherwise.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

try:
    import torch
except ImportError:
    sys.exit("char_lstm.py: PyTorch is missing; install python3-torch and run with /usr/bin/python3")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402

# --cell → graphgrad's model name, the torch module, graphgrad's rnn_cell_name.
CELLS = {"lstm": ("char_lstm", torch.nn.LSTM, "lstm"),
         "gru": ("char_gru", torch.nn.GRU, "gru"),
         "rnn": ("char_rnn", torch.nn.RNN, "rnn_tanh")}
KJV_PASSAGE = "gen1:1-rev22:21"  # io/text_corpus.h kKjvPassage
# The environments of common.sh's in_pytorch_env, for the graphgrad process this script starts:
# libgomp's spinning slows both frameworks several times over when other work shares the cores.
ENVIRONMENTS = {"plain": {}, "hugetlb": {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"},
                "passive": {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1", "OMP_WAIT_POLICY": "PASSIVE"}}
# Full-size defaults: graphgrad train char_lstm's.
FULL = dict(batch=32, seq=100, embedding=64, hidden=256, layers=2, steps=200, lr=2e-3, clip=5.0, valid_windows=0,
            roundtrip_batch=8, bpc_tol=0.03, weight_tol=None, roundtrip_tol=1e-5)
# --quick: seconds, for ctest. So few steps that the two trajectories must still agree closely:
# the weights are compared too, which catches any difference in data order or optimizer. Adam
# normalises each entry's step to about lr, so an entry whose gradient is at rounding level
# (a saturated tanh unit's bias) may move by a fair part of lr on one side and not the other:
# 0.1·lr bounds that (measured up to 6e-4 for char_rnn), while a wrong gradient, data order or
# update moves every entry by about lr per step.
QUICK = dict(batch=4, seq=16, embedding=8, hidden=16, layers=2, steps=12, lr=1e-2, clip=1.0, valid_windows=4,
             roundtrip_batch=3, bpc_tol=5e-4, weight_tol=1e-3, roundtrip_tol=1e-5)


# ---- io/, mirrored ----------------------------------------------------------------------

def default_kjv_path():
    """io::default_kjv_path()."""
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "graphgrad", "kjv.txt")
    if os.environ.get("HOME"):
        return os.path.join(os.environ["HOME"], ".cache", "graphgrad", "kjv.txt")
    return "/tmp/graphgrad/kjv.txt"


def ensure_kjv_text(path):
    """io::ensure_kjv_text(): the file, first written by Debian's `bible` when missing."""
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    try:
        text = subprocess.run(["bible", KJV_PASSAGE], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"char_lstm.py: cannot run `bible {KJV_PASSAGE}` ({e}): apt-get install bible-kjv bible-kjv-text")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    return path


def read_text(path):
    """io::read_text_file(): bytes as they are (no newline translation), a byte-order mark
    dropped, strict UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data:
        sys.exit(f"char_lstm.py: {path}: the file is empty")
    return data.decode("utf-8")


def char_vocabulary(text):
    """Vocabulary::characters(): "<unk>" = 0, then every code point of the text, sorted."""
    return ["<unk>"] + sorted(set(text))


def vocabulary_json(tokens):
    """Vocabulary::to_json(), what graphgrad checkpoints record under "vocabulary"."""
    return json.dumps({"format": "graphgrad-vocabulary-1", "kind": "char", "unknown_token": True,
                       "lowercase": False, "line_end_token": False, "tokens": tokens}, ensure_ascii=False)


def split_contiguous(ids, train=0.9, valid=0.05):
    """io::split_contiguous(): the first floor(n·0.9) ids, the next floor(n·0.05), the rest."""
    n = len(ids)
    n_train = math.floor(n * train)
    n_valid = min(n - n_train, math.floor(n * valid))
    return ids[:n_train], ids[n_train:n_train + n_valid], ids[n_train + n_valid:]


class StreamBatcher:
    """io::StreamBatcher with LastWindow::Drop."""

    def __init__(self, ids, batch, window):
        length = len(ids) // batch
        if length < 2:
            sys.exit(f"char_lstm.py: {len(ids)} tokens are too few for {batch} streams")
        self.data = ids[:batch * length].view(batch, length)
        self.window = window
        self.num_windows = (length - 1) // window

    def fill(self, w):
        t0 = w * self.window
        x = self.data[:, t0:t0 + self.window].t().contiguous()
        y = self.data[:, t0 + 1:t0 + self.window + 1].t().contiguous()
        return x, y  # i64 [T, B]


def load_corpus(path):
    text = read_text(path)
    tokens = char_vocabulary(text)
    index = {t: i for i, t in enumerate(tokens) if i}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    return tokens, split_contiguous(ids)


# ---- the model -------------------------------------------------------------------------------

class CharModel(torch.nn.Module):
    """build_char_model's layers and parameter names."""

    def __init__(self, cell, vocab, embedding, hidden, layers):
        super().__init__()
        self.cell = cell
        self.embedding = torch.nn.Embedding(vocab, embedding)
        self.rnn = CELLS[cell][1](embedding, hidden, layers)
        self.decoder = torch.nn.Linear(hidden, vocab)
        self.shape = (layers, hidden)

    def zero_state(self, batch):
        h = torch.zeros(self.shape[0], batch, self.shape[1])
        return (h, h.clone()) if self.cell == "lstm" else h

    def forward(self, tokens, state):
        y, state = self.rnn(self.embedding(tokens), state)
        return self.decoder(y), state  # [T, B, V]


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def metadata(a, tokens):
    """What record_char_model and put_vocabulary write into graphgrad's checkpoints."""
    return {"model": CELLS[a.cell][0], "lm.cell": CELLS[a.cell][2], "lm.embedding": a.embedding,
            "lm.hidden": a.hidden, "lm.layers": a.layers, "lm.dropout": "0", "vocabulary": vocabulary_json(tokens),
            "format": "graphgrad-1", "source": f"pytorch {torch.__version__} (tools/compare/char_lstm.py)"}


def mean_window_loss(model, batcher, windows):
    """evaluate_language_model(): states carried from zeros, the mean of each window's mean loss."""
    model.eval()
    state, total = model.zero_state(batcher.data.shape[0]), 0.0
    with torch.no_grad():
        for w in range(windows):
            x, y = batcher.fill(w)
            z, state = model(x, state)
            total += torch.nn.functional.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1)).item()
    return total / windows


def train_torch(model, batcher, a):
    """The Trainer's loop: carried states (zeros first), loss, backward, clip, Adam; the time of
    each step (forward, backward, clipping and update, as graphgrad's ms_per_step)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    state, loss_sum, times = model.zero_state(batcher.data.shape[0]), 0.0, []
    for w in range(a.steps):
        x, y = batcher.fill(w)
        t0 = time.perf_counter()
        z, state = model(x, detach(state))  # the previous window's final states; the gradient stops
        loss = torch.nn.functional.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        times.append(time.perf_counter() - t0)
        loss_sum += loss.item()
    return loss_sum / a.steps, times


# ---- graphgrad -------------------------------------------------------------------------------

def graphgrad_env(a):
    """graphgrad's environment is its own (--graphgrad-env), whatever PyTorch's is; the same
    thread count."""
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "OMP_WAIT_POLICY")}
    env.update(ENVIRONMENTS[a.graphgrad_env])
    env["OMP_NUM_THREADS"] = str(a.threads)
    return env


def run_graphgrad(a, args):
    out = subprocess.run([a.graphgrad] + [str(x) for x in args], env=graphgrad_env(a), capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.exit(f"char_lstm.py: graphgrad {' '.join(map(str, args[:2]))} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def graphgrad_outputs(a, checkpoint, batch_file, out_file):
    run_graphgrad(a, ["logits", CELLS[a.cell][0], "--batch-file", batch_file, "--checkpoint", checkpoint,
                      "--output", out_file])
    return safetensors_io.load(out_file)[0]


def torch_outputs(model, tokens, state):
    model.eval()
    with torch.no_grad():
        z, s = model(tokens, state)
    out = {"logits": z}
    out.update({"h_n": s[0], "c_n": s[1]} if isinstance(s, tuple) else {"h_n": s})
    return out


def compare(label, gg, pt, tol):
    """max |graphgrad − PyTorch| per output, against tol · max(1, largest |value|)."""
    ok, parts = True, []
    for name in pt:
        diff = (gg[name] - pt[name]).abs().max().item()
        largest = pt[name].abs().max().item()
        ok &= diff <= tol * max(1.0, largest)
        parts.append(f"{name} {diff:.2g} (|{name}| <= {largest:.3g})")
    print(f"{'ok  ' if ok else 'FAIL'} {label}: max |graphgrad - torch|: {', '.join(parts)} (tolerance {tol:g} "
          f"x max(1, |value|))")
    return ok, {name: (gg[name] - pt[name]).abs().max().item() for name in pt}


# ---- the run ---------------------------------------------------------------------------------

def graphgrad_train_args(a, text, steps, windows):
    return ["train", CELLS[a.cell][0], "--text", text, "--batch", a.batch, "--seq", a.seq, "--embedding", a.embedding,
            "--hidden", a.hidden, "--layers", a.layers, "--dropout", 0, "--optimizer", "adam", "--lr", repr(a.lr),
            "--clip", repr(a.clip), "--epochs", 1, "--limit-train", steps, "--limit-valid", windows, "--seed", a.seed,
            "--split-blocks", 1, "--json"]


def time_only(a):
    """One framework's step time alone (PyTorch: median on random tokens; graphgrad: mean of a
    short run): char_lstm.sh picks each framework's fastest environment with it."""
    if a.time_only == "graphgrad":
        text = a.text or ensure_kjv_text(default_kjv_path())
        gg = json.loads(run_graphgrad(a, graphgrad_train_args(a, text, a.steps, 1)))
        print(json.dumps({"median_ms": gg["ms_per_step"]}))
        return 0
    torch.manual_seed(a.seed)
    vocab = 98
    model = CharModel(a.cell, vocab, a.embedding, a.hidden, a.layers)
    ids = torch.randint(0, vocab, (a.batch * (a.seq * a.steps + 1),))
    _, times = train_torch(model, StreamBatcher(ids, a.batch, a.seq), a)
    print(json.dumps({"median_ms": 1e3 * sorted(times[1:])[len(times[1:]) // 2]}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graphgrad", default=os.environ.get("GG", os.path.join(ROOT, "build", "bin", "graphgrad")))
    ap.add_argument("--cell", choices=sorted(CELLS), default="lstm")
    ap.add_argument("--text", help="UTF-8 text (default: the King James Bible, where graphgrad keeps it)")
    ap.add_argument("--quick", action="store_true", help="small sizes and few steps (seconds; what ctest runs)")
    for name, value in FULL.items():
        ap.add_argument("--" + name.replace("_", "-"), type=type(value) if value is not None else float,
                        help=f"default {value} ({QUICK[name]} with --quick)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="threads of both frameworks")
    ap.add_argument("--torch-env", default="as started", help="the environment PyTorch runs in (for the report)")
    ap.add_argument("--graphgrad-env", choices=sorted(ENVIRONMENTS), default="plain",
                    help="the environment graphgrad runs in (char_lstm.sh: its fastest)")
    ap.add_argument("--time-only", choices=["pytorch", "graphgrad"], help="print one framework's step time only")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    for name, value in (QUICK if a.quick else FULL).items():
        if getattr(a, name) is None:
            setattr(a, name, value)
    torch.set_num_threads(a.threads)
    if a.time_only:
        return time_only(a)
    if not os.access(a.graphgrad, os.X_OK):
        sys.exit(f"char_lstm.py: no graphgrad binary at {a.graphgrad} (build it, or pass --graphgrad)")
    text = a.text or ensure_kjv_text(default_kjv_path())

    tokens, (train_ids, valid_ids, _) = load_corpus(text)
    vocab = len(tokens)
    train = StreamBatcher(train_ids, a.batch, a.seq)
    valid = StreamBatcher(valid_ids, a.batch, a.seq)
    if a.steps > train.num_windows:
        sys.exit(f"char_lstm.py: {a.steps} steps, but the training split has {train.num_windows} windows (one epoch)")
    windows = min(valid.num_windows, a.valid_windows) if a.valid_windows > 0 else valid.num_windows
    model_name = CELLS[a.cell][0]
    print(f"{model_name}: {text}: vocabulary {vocab}, split {len(train_ids)} / {len(valid_ids)}; "
          f"{a.layers} x {a.hidden} units, embedding {a.embedding}; batch {a.batch} x {a.seq} steps, Adam lr {a.lr:g}, "
          f"clip {a.clip:g}; {a.steps} steps, validation on {windows} windows; {a.threads} threads")

    torch.manual_seed(a.seed)
    model = CharModel(a.cell, vocab, a.embedding, a.hidden, a.layers)
    ok, report = True, {"model": model_name, "steps": a.steps, "vocabulary": vocab, "valid_windows": windows,
                        "torch_env": a.torch_env, "graphgrad_env": a.graphgrad_env}
    with tempfile.TemporaryDirectory() as tmp:
        init = os.path.join(tmp, "init.safetensors")
        safetensors_io.save(init, model.state_dict(), metadata(a, tokens))

        # graphgrad: the same steps from the same weights.
        gg_ckpt = os.path.join(tmp, "graphgrad.safetensors")
        args = graphgrad_train_args(a, text, a.steps, windows) + ["--init", init, "--checkpoint", gg_ckpt]
        t0 = time.perf_counter()
        gg = json.loads(run_graphgrad(a, args))
        gg_wall = time.perf_counter() - t0
        gg_bpc = gg["records"][0]["valid_bpc"]

        # PyTorch.
        t0 = time.perf_counter()
        train_loss, times = train_torch(model, train, a)
        pt_bpc = mean_window_loss(model, valid, windows) / math.log(2)
        pt_wall = time.perf_counter() - t0
        pt_mean = 1e3 * sum(times) / len(times)
        pt_median = 1e3 * sorted(times)[len(times) // 2]

        diff = abs(gg_bpc - pt_bpc)
        bpc_ok = diff <= a.bpc_tol
        ok &= bpc_ok
        print(f"{'ok  ' if bpc_ok else 'FAIL'} validation bits per character after {a.steps} steps: graphgrad "
              f"{gg_bpc:.4f}, PyTorch {pt_bpc:.4f}, difference {diff:.2g} (tolerance {a.bpc_tol:g}); training bpc "
              f"graphgrad {gg['records'][0]['train_bpc']:.4f}, PyTorch {train_loss / math.log(2):.4f}")
        print(f"     step time (forward, BPTT, clipping, Adam): graphgrad {gg['ms_per_step']:.1f} ms, PyTorch "
              f"{pt_mean:.1f} ms mean / {pt_median:.1f} ms median; environments graphgrad {a.graphgrad_env}, "
              f"PyTorch {a.torch_env}; ratio "
              f"{gg['ms_per_step'] / pt_mean:.2f}; wall (with setup and validation) {gg_wall:.1f} s vs {pt_wall:.1f} s")
        gg_state = {k: v for k, v in safetensors_io.load(gg_ckpt)[0].items() if not k.startswith("optim.")}
        drifts = {k: (gg_state[k] - v).abs().max().item() for k, v in model.state_dict().items()}
        worst = max(drifts, key=drifts.get)
        drift = drifts[worst]
        weights_ok = a.weight_tol is None or drift <= a.weight_tol
        ok &= weights_ok
        print(f"{'ok  ' if weights_ok else 'FAIL'} trained weights: max |graphgrad - PyTorch| {drift:.2g} (in {worst})"
              + (f" (tolerance {a.weight_tol:g})" if a.weight_tol is not None else " (f32 rounding, amplified by "
                 "training; reported, not checked)"))
        report.update(graphgrad_valid_bpc=gg_bpc, pytorch_valid_bpc=pt_bpc, bpc_difference=diff,
                      graphgrad_ms_per_step=gg["ms_per_step"], pytorch_ms_per_step=pt_mean,
                      pytorch_median_ms_per_step=pt_median, weight_drift=drift)

        # Round trip on validation tokens from random initial states, with each side's trained weights.
        x, _ = valid.fill(0)
        x = x[:, :a.roundtrip_batch].contiguous()
        gen = torch.Generator().manual_seed(a.seed + 1)
        h0 = 0.5 * torch.randn(a.layers, x.shape[1], a.hidden, generator=gen)
        c0 = 0.5 * torch.randn(a.layers, x.shape[1], a.hidden, generator=gen)
        batch_file = os.path.join(tmp, "batch.safetensors")
        safetensors_io.save(batch_file, {"tokens": x, "h0": h0, **({"c0": c0} if a.cell == "lstm" else {})})
        state = (h0, c0) if a.cell == "lstm" else h0

        pt_ckpt = os.path.join(tmp, "pytorch.safetensors")
        safetensors_io.save(pt_ckpt, model.state_dict(), metadata(a, tokens))
        r1, d1 = compare("PyTorch's trained weights in graphgrad",
                         graphgrad_outputs(a, pt_ckpt, batch_file, os.path.join(tmp, "out1.safetensors")),
                         torch_outputs(model, x, state), a.roundtrip_tol)
        twin = CharModel(a.cell, vocab, a.embedding, a.hidden, a.layers)
        twin.load_state_dict(gg_state, strict=True)  # same names, shapes and set of entries, or it raises
        r2, d2 = compare("graphgrad's trained checkpoint in PyTorch",
                         graphgrad_outputs(a, gg_ckpt, batch_file, os.path.join(tmp, "out2.safetensors")),
                         torch_outputs(twin, x, state), a.roundtrip_tol)
        ok &= r1 and r2
        report.update(roundtrip_pytorch_to_graphgrad=d1, roundtrip_graphgrad_to_pytorch=d2,
                      roundtrip_tokens=list(x.shape))
    report["ok"] = bool(ok)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    print(f"{model_name}: " + ("graphgrad and PyTorch agree" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
