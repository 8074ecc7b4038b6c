#!/usr/bin/python3
"""PyTorch's side of `graphgrad bench rnn`: one training step of one recurrent layer
(nn.LSTM / nn.GRU / nn.RNN, time-major), a linear decoder to `classes` with cross-entropy at
every step, backward (BPTT), Adam update — the step graphgrad times, on random data of the
same sizes. Prints JSON: step_ms (median), every step's ms, the peak RSS of this process and
step_rss_bytes, how far the steps raised it above the RSS before the first step (what the
training step itself needs: activations, gradients, workspaces, optimizer state).

`graphgrad bench rnn` runs this under three environments and keeps the fastest
(tools/compare/common.sh explains why):
    /usr/bin/python3 tools/compare/rnn_step.py --cell lstm --input 64 --hidden 256 --seq 100 --batch 32
"""
import argparse
import json
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("rnn_step.py: PyTorch is missing; install it with `apt-get install python3-torch "
             "libopenblas0-pthread` and run with /usr/bin/python3")


def rss_bytes():
    """This process's resident set now (data, parameters and the framework, before any step)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cell", choices=["lstm", "gru", "rnn", "rnn_tanh", "rnn_relu"], default="lstm")
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--seq", type=int, default=100)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--classes", type=int, default=96)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)  # Debian's default here is 1
    torch.manual_seed(1)

    if a.cell == "lstm":
        layer = torch.nn.LSTM(a.input, a.hidden)
    elif a.cell == "gru":
        layer = torch.nn.GRU(a.input, a.hidden)
    else:
        layer = torch.nn.RNN(a.input, a.hidden, nonlinearity="relu" if a.cell == "rnn_relu" else "tanh")
    decoder = torch.nn.Linear(a.hidden, a.classes)
    params = list(layer.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.randn(a.seq, a.batch, a.input)
    labels = torch.randint(0, a.classes, (a.seq * a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        y, _ = layer(x)
        loss = F.cross_entropy(decoder(y.reshape(-1, a.hidden)), labels)
        loss.backward()
        opt.step()
        return loss

    base_bytes = rss_bytes()
    times = []
    for r in range(a.warmup + a.repeats):
        t0 = time.perf_counter()
        step()
        if r >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"framework": "pytorch", "torch": torch.__version__, "cell": a.cell, "step_ms": statistics.median(times),
                      "times_ms": times, "peak_rss_bytes": peak_kib * 1024,
                      "step_rss_bytes": peak_kib * 1024 - base_bytes, "threads": a.threads}))


if __name__ == "__main__":
    main()
