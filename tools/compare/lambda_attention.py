#!/usr/bin/python3
"""PyTorch's side of `graphgrad bench lambda-vs-attention`: the same four layers at equal
width d on square maps s x s (n = s^2), built like models/attention.cpp and
models/lambda_layer.cpp (same parameters, same formulation), timing forward + backward
(gradients of <y, dy> for x and every parameter) with 2 threads, and their memory:

  activation_bytes   tensors autograd saves for backward (parameters excluded), from
                     torch.autograd.graph.saved_tensors_hooks
  step_peak_bytes    peak of bytes allocated during one forward + backward over what was live
                     before it (profiler memory events, train_step.step_peak_bytes): the figure
                     comparable to graphgrad's planned training arena (train_peak_bytes)

Layers: conv3x3 (nn.Conv2d(d, d, 3, padding=1)), attention (h heads: 1x1 q, k, v without bias,
softmax(q^T k / sqrt(d_h)), 1x1 out with bias), lambda (global, relative position embeddings
E[n, m] = table[offset(n - m)], u = 1) and lambda_conv (lambda convolution: position lambdas
from an r x r convolution of the values, u = --conv-u).

    /usr/bin/python3 tools/compare/lambda_attention.py --sizes 8,16,32 --batch 8 --json
"""
import argparse
import json
import math
import os
import statistics
import sys

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("lambda_attention.py: PyTorch is missing; install it with `apt-get install python3-torch "
             "libopenblas0-pthread` and run with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import saved_activation_bytes, step_peak_bytes, timed_ms  # noqa: E402

LAYERS = ["conv3x3", "attention", "lambda", "lambda_conv"]


class SelfAttention(nn.Module):
    """models::self_attention: tokens are the columns of [b, heads, d_head, n]."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Conv2d(dim, dim, 1, bias=False)
        self.k = nn.Conv2d(dim, dim, 1, bias=False)
        self.v = nn.Conv2d(dim, dim, 1, bias=False)
        self.out = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        b, d, H, W = x.shape
        h, dh, n = self.heads, d // self.heads, H * W
        q = self.q(x).reshape(b, h, dh, n) * (1.0 / math.sqrt(dh))
        k = self.k(x).reshape(b, h, dh, n)
        v = self.v(x).reshape(b, h, dh, n)
        attn = torch.softmax(q.transpose(-2, -1) @ k, dim=-1)  # [b, h, n, m]: the quadratic maps
        y = (v @ attn.transpose(-2, -1)).reshape(b, d, H, W)
        return self.out(y)


def relative_position_index(H, W):
    """[n, m] row of the table [(2H-1)(2W-1), ...] for offset n - m (lambda_layer.cpp)."""
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :]
    dx = xs[:, None] - xs[None, :]
    return (dy + H - 1) * (2 * W - 1) + (dx + W - 1)


class LambdaLayer(nn.Module):
    """models::lambda_layer: Q = BN(conv_q x), K = softmax_m(conv_k x), V = BN(conv_v x);
    lambda_c = K^T V, lambda_p = E^T V (r = 0) or a conv of V (r > 0); y = (lambda_c + lambda_p)^T q."""

    def __init__(self, dim, size, k=16, heads=4, u=1, r=0):
        super().__init__()
        self.kk, self.heads, self.u, self.r, self.vv = k, heads, u, r, dim // heads
        self.q = nn.Conv2d(dim, k * heads, 1, bias=False)
        self.norm_q = nn.BatchNorm2d(k * heads)
        self.k = nn.Conv2d(dim, k * u, 1, bias=False)
        self.v = nn.Conv2d(dim, self.vv * u, 1, bias=False)
        self.norm_v = nn.BatchNorm2d(self.vv * u)
        if r == 0:
            self.rel_pos_emb = nn.Parameter(torch.randn((2 * size - 1) ** 2, k, u))
            self.register_buffer("rel_pos_index", relative_position_index(size, size), persistent=False)
        else:
            self.pos_conv = nn.Conv2d(u, k, r, padding=r // 2, bias=False)

    def forward(self, x):
        b, _, H, W = x.shape
        n, h, k, u, v = H * W, self.heads, self.kk, self.u, self.vv
        q = self.norm_q(self.q(x)).reshape(b, h, k, n)
        keys = torch.softmax(self.k(x).reshape(b, u, k, n), dim=-1)
        vals = self.norm_v(self.v(x)).reshape(b, u, v, n)
        lc = torch.einsum("bukm,buvm->bkv", keys, vals)
        y = torch.einsum("bkv,bhkn->bhvn", lc, q)
        if self.r == 0:
            e = self.rel_pos_emb[self.rel_pos_index]  # E [n, m, k, u]: the k*n*m*u tensor
            lp = torch.einsum("nmku,buvm->bnkv", e, vals)  # [b, n, k, v]
        else:
            c = self.pos_conv(vals.permute(0, 2, 1, 3).reshape(b * v, u, H, W))  # [b*v, k, H, W]
            lp = c.reshape(b, v, k, n).permute(0, 3, 2, 1)  # [b, n, k, v]
        y = y + torch.einsum("bhkn,bnkv->bhvn", q, lp)
        return y.reshape(b, h * v, H, W)


def build(layer, a, size):
    if layer == "conv3x3":
        return nn.Conv2d(a.dim, a.dim, 3, padding=1)
    if layer == "attention":
        return SelfAttention(a.dim, a.heads)
    if layer == "lambda":
        return LambdaLayer(a.dim, size, a.k, a.lambda_heads, 1, 0)
    return LambdaLayer(a.dim, size, a.k, a.lambda_heads, a.conv_u, a.r)


def estimated_bytes(layer, a, s):
    """A generous guess of one step's peak, to skip sizes that cannot fit: the layer's
    quadratic tensor four times (forward, saved, its gradient, a temporary) plus activations."""
    n, b = s * s, a.batch
    act = 16 * b * a.dim * n * 4
    if layer == "attention":
        return 4 * b * a.heads * n * n * 4 + act
    if layer == "lambda":
        return 4 * n * n * a.k * 4 + 4 * b * n * a.k * (a.dim // a.lambda_heads) * 4 + act
    if layer == "lambda_conv":
        return 4 * b * n * a.k * (a.dim // a.lambda_heads) * 4 + act
    return act


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def bench(layer, a, s):
    torch.manual_seed(1)
    row = {"layer": layer, "size": s, "n": s * s, "batch": a.batch}
    need, budget = estimated_bytes(layer, a, s), int(a.budget * mem_available())
    if need > budget:
        row["skipped"] = f"estimated {need / 2**30:.1f} GiB > budget {budget / 2**30:.1f} GiB"
        return row
    net = build(layer, a, s)
    net.train()
    x = torch.randn(a.batch, a.dim, s, s, requires_grad=True)
    dy = torch.randn(a.batch, a.dim, s, s)

    def step():
        net.zero_grad(set_to_none=True)
        x.grad = None
        net(x).backward(dy)

    times = timed_ms(step, a.warmup, a.repeats)
    row.update({
        "params": sum(p.numel() for p in net.parameters()),
        "ms": statistics.median(times),
        "ms_min": min(times),
        "activation_bytes": saved_activation_bytes(net, lambda: net(x)),
        "step_peak_bytes": step_peak_bytes(step),
    })
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="8,16,32", help="feature map sides, comma separated")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--lambda-heads", type=int, default=4)
    ap.add_argument("--r", type=int, default=23)
    ap.add_argument("--conv-u", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=0.6, help="fraction of MemAvailable a step may need")
    ap.add_argument("--layers", default=",".join(LAYERS))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)  # Debian's default here is 1
    sizes = [int(s) for s in a.sizes.split(",")]
    rows = [bench(layer, a, s) for s in sizes for layer in a.layers.split(",")]
    if a.json:
        print(json.dumps({"rows": rows, "torch": torch.__version__, "threads": torch.get_num_threads(),
                          "env": {k: os.environ.get(k, "") for k in ("GLIBC_TUNABLES", "OMP_WAIT_POLICY")}},
                         indent=2))
        return
    print(f"{'size':<6} {'layer':<12} {'params':>9} {'f+b ms':>9} {'(min)':>9} {'saved MiB':>10} {'peak MiB':>10}")
    for r in rows:
        size = f"{r['size']}x{r['size']}"
        if "skipped" in r:
            print(f"{size:<6} {r['layer']:<12} skipped: {r['skipped']}")
            continue
        print(f"{size:<6} {r['layer']:<12} {r['params']:>9} {r['ms']:>9.2f} {r['ms_min']:>9.2f} "
              f"{r['activation_bytes'] / 2**20:>10.1f} {r['step_peak_bytes'] / 2**20:>10.1f}")
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, median of {a.repeats} runs")


if __name__ == "__main__":
    main()
