#!/usr/bin/python3
"""PyTorch's side of `graphgrad bench train-step`: the same model (tools/compare/models.py
mirrors the zoo), batch and random data, timing one full training step (zero_grad, forward,
cross-entropy, backward, SGD momentum 0.9 update) with 2 threads, plus its memory:

  activation_bytes   tensors autograd saves for backward (parameters excluded), from
                     torch.autograd.graph.saved_tensors_hooks
  step_peak_bytes    peak of bytes allocated during one step over what was live before it
                     (activations, their gradients, parameter gradients, workspaces), from
                     the profiler's memory events: the figure comparable to graphgrad's
                     planned training arena (train_peak_bytes)

Run with Debian's PyTorch (`apt-get install python3-torch libopenblas0-pthread`):
    /usr/bin/python3 tools/compare/train_step.py --model resnet20 --batch 64 --json
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("train_step.py: PyTorch is missing; install it with `apt-get install python3-torch "
             "libopenblas0-pthread` and run with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def saved_activation_bytes(net, forward):
    """Bytes of the distinct storages autograd keeps for backward while forward() runs,
    net's parameters excluded."""
    params = {p.data_ptr() for p in net.parameters()}
    saved = {}

    def pack(t):
        if t.data_ptr() not in params:
            saved[t.data_ptr()] = t.storage().nbytes()  # 1.13: TypedStorage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward()
    del out
    return sum(saved.values())


def timed_ms(fn, warmup, repeats):
    """Wall-clock milliseconds of each of `repeats` calls of fn, after `warmup` untimed ones."""
    times = []
    for r in range(warmup + repeats):
        t0 = time.perf_counter()
        fn()
        if r >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def step_peak_bytes(step):
    """Peak of net bytes allocated during one step, from the profiler's memory events."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = [(e.start_us(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    current = peak = 0
    for _, nbytes in sorted(events, key=lambda e: e[0]):
        current += nbytes
        peak = max(peak, current)
    return peak


def bench(name, batch, repeats, warmup, input_chw):
    torch.manual_seed(1)
    net = models.build(name)
    net.train()
    x = torch.randn(batch, *input_chw)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    times = timed_ms(step, warmup, repeats)
    with torch.no_grad():
        net.eval()
        infer = timed_ms(lambda: net(x), warmup, repeats)
        net.train()
    return {
        "model": name,
        "batch": batch,
        "input": list(input_chw),
        "parameters": sum(p.numel() for p in net.parameters()),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "step_ms": statistics.median(times),
        "step_ms_min": min(times),
        "inference_ms": statistics.median(infer),
        "activation_bytes": saved_activation_bytes(net, lambda: F.cross_entropy(net(x), y)),
        "step_peak_bytes": step_peak_bytes(step),
        "env": {k: os.environ.get(k, "") for k in ("GLIBC_TUNABLES", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")},
        "torch": torch.__version__,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="all", help="lenet5, resnet20, mobilenet_v1 or all")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input", default="1x28x28", help="CxHxW")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)  # Debian's default here is 1
    chw = tuple(int(v) for v in a.input.split("x"))
    names = ["lenet5", "resnet20", "mobilenet_v1"] if a.model == "all" else [a.model]
    results = [bench(n, a.batch, a.repeats, a.warmup, chw) for n in names]
    if a.json:
        print(json.dumps(results if a.model == "all" else results[0], indent=2))
        return
    print(f"{'model':<14} {'batch':>6} {'step ms':>10} {'(min)':>9} {'infer ms':>9} {'saved act MiB':>14} {'step peak MiB':>14}")
    for r in results:
        print(f"{r['model']:<14} {r['batch']:>6} {r['step_ms']:>10.3f} {r['step_ms_min']:>9.3f} {r['inference_ms']:>9.3f} "
              f"{r['activation_bytes'] / 2**20:>14.2f} {r['step_peak_bytes'] / 2**20:>14.2f}")
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, median of {a.repeats} steps")


if __name__ == "__main__":
    main()
