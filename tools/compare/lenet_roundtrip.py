#!/usr/bin/python3
"""Proves graphgrad and PyTorch compute the same LeNet-5 from the same weights, with the
weights travelling as safetensors in both directions:

  1. graphgrad → PyTorch: `graphgrad logits` initialises LeNet-5 (seed 3), saves its weights
     weights-only (io::save_checkpoint without optimizer state) and its logits for a batch of
     Fashion-MNIST test images; PyTorch loads the file with load_state_dict(strict=True) and
     must produce the same logits.
  2. PyTorch → graphgrad: PyTorch initialises LeNet-5 (seed 5) and saves its state_dict;
     `graphgrad logits --checkpoint` loads it and must produce PyTorch's logits.
  3. With --checkpoint PATH (e.g. from `graphgrad train lenet5 --checkpoint PATH`), the
     trained weights too (its optimizer state is skipped).

    /usr/bin/python3 tools/compare/lenet_roundtrip.py [--graphgrad build/bin/graphgrad]
Exit status 0 when every comparison is within tolerance. --model resnet20 or mobilenet_v1
checks the same for batch-norm models (running statistics travel too).
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    sys.exit("lenet_roundtrip.py: PyTorch is missing; install it with `apt-get install python3-torch` "
             "and run with /usr/bin/python3")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import models  # noqa: E402
import safetensors_io  # noqa: E402

MEAN, STD = 0.2860, 0.3530  # io/dataset.h's Fashion-MNIST normalisation


def read_test_images(folder, count):
    """The first `count` t10k images as normalised f32 [count, 1, 28, 28] (IDX, plain or .gz)."""
    path = os.path.join(folder, "t10k-images-idx3-ubyte")
    opener = open if os.path.exists(path) else gzip.open
    with opener(path if os.path.exists(path) else path + ".gz", "rb") as f:
        header = f.read(16)
        if int.from_bytes(header[:4], "big") != 0x803:
            raise SystemExit(f"{path}: not an IDX image file")
        n, rows, cols = (int.from_bytes(header[i:i + 4], "big") for i in (4, 8, 12))
        count = min(count, n)
        raw = bytearray(f.read(count * rows * cols))
    x = torch.frombuffer(raw, dtype=torch.uint8).float().reshape(count, 1, rows, cols)
    return (x / 255.0 - MEAN) / STD


def graphgrad_logits(gg, model, batch_file, out_file, extra):
    cmd = [gg, "logits", model, "--batch-file", batch_file, "--output", out_file] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    tensors, _ = safetensors_io.load(out_file)
    return tensors["logits"]


def torch_logits(model, state, x):
    net = models.build(model)
    net.load_state_dict(state, strict=True)  # same names, shapes and set of entries, or it raises
    net.eval()
    with torch.no_grad():
        return net(x)


def compare(label, a, b, tol):
    diff = (a - b).abs().max().item()
    scale = b.abs().max().item()
    same_class = bool((a.argmax(1) == b.argmax(1)).all())
    ok = diff <= tol * max(1.0, scale) and same_class
    print(f"{'ok  ' if ok else 'FAIL'} {label}: max |graphgrad - torch| = {diff:.3g} (logits up to {scale:.3g}), "
          f"argmax {'identical' if same_class else 'DIFFERS'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graphgrad", default=os.environ.get("GG", os.path.join(ROOT, "build", "bin", "graphgrad")))
    ap.add_argument("--model", default="lenet5")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--checkpoint", help="also compare this graphgrad checkpoint's weights")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs difference relative to the largest logit")
    a = ap.parse_args()
    if not os.access(a.graphgrad, os.X_OK):
        sys.exit(f"lenet_roundtrip.py: no graphgrad binary at {a.graphgrad} (build it, or pass --graphgrad)")
    torch.set_num_threads(2)
    x = read_test_images(a.data, a.batch)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        batch_file = os.path.join(tmp, "batch.safetensors")
        safetensors_io.save(batch_file, {"x": x})

        # 1. graphgrad's initial weights → PyTorch
        gg_w = os.path.join(tmp, "gg_weights.safetensors")
        z_gg = graphgrad_logits(a.graphgrad, a.model, batch_file, os.path.join(tmp, "z1.safetensors"),
                                ["--seed", "3", "--save-weights", gg_w])
        state, meta = safetensors_io.load(gg_w)
        print(f"graphgrad wrote {len(state)} tensors ({', '.join(sorted(state)[:6])}{', ...' if len(state) > 6 else ''}), "
              f"format {meta.get('format', '?')}")
        ok &= compare(f"{a.model}: graphgrad weights loaded into PyTorch", z_gg, torch_logits(a.model, state, x), a.tol)

        # 2. PyTorch's initial weights → graphgrad
        torch.manual_seed(5)
        net = models.build(a.model)
        if any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()):
            # Non-trivial running statistics, so evaluation mode really is tested.
            net.train()
            with torch.no_grad():
                for _ in range(3):
                    net(torch.randn(16, *x.shape[1:]))
        torch_w = os.path.join(tmp, "torch_weights.safetensors")
        safetensors_io.save(torch_w, net.state_dict(), {"source": "pytorch"})
        z_gg = graphgrad_logits(a.graphgrad, a.model, batch_file, os.path.join(tmp, "z2.safetensors"),
                                ["--checkpoint", torch_w])
        ok &= compare(f"{a.model}: PyTorch weights loaded into graphgrad", z_gg,
                      torch_logits(a.model, net.state_dict(), x), a.tol)

        # 3. a trained graphgrad checkpoint (optimizer slots "optim.*" are not model state)
        if a.checkpoint:
            state, meta = safetensors_io.load(a.checkpoint)
            state = {k: v for k, v in state.items() if not k.startswith("optim.")}
            z_gg = graphgrad_logits(a.graphgrad, a.model, batch_file, os.path.join(tmp, "z3.safetensors"),
                                    ["--checkpoint", a.checkpoint])
            ok &= compare(f"{a.model}: trained checkpoint {os.path.basename(a.checkpoint)} "
                          f"(epoch {meta.get('epoch', '?')})", z_gg, torch_logits(a.model, state, x), a.tol)
    print("round trip: " + ("same logits in both frameworks" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
