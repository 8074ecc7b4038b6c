#!/usr/bin/python3
"""Writes tests/data/rnn_pytorch.safetensors: PyTorch's nn.RNN (tanh, relu), nn.LSTM and nn.GRU
in f64, one layer, uni- and bidirectional, full-length and packed (variable-length) batches,
with their inputs, parameters, outputs and every gradient of <y, dy> + <h_n, dh_n> (+ <c_n, dc_n>).
tests/test_rnn_reference.cpp checks graphgrad's reference recurrent kernels against it, so the
meaning of the fused ops stays pinned to PyTorch's without PyTorch in the test run.

    /usr/bin/python3 tools/compare/rnn_fixture.py [--out tests/data/rnn_pytorch.safetensors]
"""
import argparse
import os
import sys

try:
    import torch
except ImportError:
    sys.exit("rnn_fixture.py: PyTorch is missing; install python3-torch and run with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save  # noqa: E402

T, N, I, H = 3, 2, 2, 3
LENGTHS = [3, 1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p.add_argument("--out", default=os.path.join(root, "tests", "data", "rnn_pytorch.safetensors"))
    args = p.parse_args()
    torch.manual_seed(11)
    out = {}
    for cell in ["rnn_tanh", "rnn_relu", "lstm", "gru"]:
        for bi in [False, True]:
            for packed in [False, True]:
                D = 2 if bi else 1
                if cell.startswith("rnn"):
                    m = torch.nn.RNN(I, H, nonlinearity=cell[4:], bidirectional=bi)
                elif cell == "lstm":
                    m = torch.nn.LSTM(I, H, bidirectional=bi)
                else:
                    m = torch.nn.GRU(I, H, bidirectional=bi)
                m = m.double()
                x = torch.randn(T, N, I, dtype=torch.float64, requires_grad=True)
                h0 = torch.randn(D, N, H, dtype=torch.float64, requires_grad=True)
                c0 = torch.randn(D, N, H, dtype=torch.float64, requires_grad=True)
                state = (h0, c0) if cell == "lstm" else h0
                if packed:
                    seq = torch.nn.utils.rnn.pack_padded_sequence(x, LENGTHS, enforce_sorted=False)
                    ys, s = m(seq, state)
                    y, _ = torch.nn.utils.rnn.pad_packed_sequence(ys, total_length=T)
                else:
                    y, s = m(x, state)
                hn = s[0] if cell == "lstm" else s
                dy, dhn = torch.randn_like(y), torch.randn_like(hn)
                loss = (y * dy).sum() + (hn * dhn).sum()
                key = f"{cell}.{'bi' if bi else 'uni'}.{'packed' if packed else 'full'}."
                if cell == "lstm":
                    dcn = torch.randn_like(s[1])
                    loss = loss + (s[1] * dcn).sum()
                    out[key + "cn"], out[key + "dcn"] = s[1], dcn
                loss.backward()
                out.update({key + "x": x, key + "h0": h0, key + "y": y, key + "hn": hn, key + "dy": dy,
                            key + "dhn": dhn, key + "grad.x": x.grad, key + "grad.h0": h0.grad})
                if cell == "lstm":
                    out[key + "c0"], out[key + "grad.c0"] = c0, c0.grad
                if packed:
                    out[key + "lengths"] = torch.tensor(LENGTHS, dtype=torch.int64)
                for name, prm in m.named_parameters():
                    out[key + name] = prm
                    out[key + "grad." + name] = prm.grad
    save(args.out, {k: v.detach() for k, v in out.items()},
         {"torch": torch.__version__, "generator": "tools/compare/rnn_fixture.py"})
    print(f"{args.out}: {len(out)} tensors")


if __name__ == "__main__":
    main()
