#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (fuzz/corpus/<harness>/): small valid inputs
of every kind the readers accept, so mutation starts from the interesting structure.
Run from anywhere; the files are checked in (regenerate only when a format changes)."""
import gzip, json, os, struct

here = os.path.dirname(os.path.abspath(__file__))
def put(harness, name, data):
    d = os.path.join(here, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def idx(dims, fill=7):
    head = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    n = 1
    for d in dims: n *= d
    return head + bytes((fill + i) % 256 for i in range(n))

for name, dims in [("images_2x3x3", [2, 3, 3]), ("labels_5", [5]), ("empty_0x4x4", [0, 4, 4]), ("one_1x1x1", [1, 1, 1])]:
    put("idx", name, idx(dims))
    put("idx", name + ".gz", gzip.compress(idx(dims), mtime=0))
    put("idx_gz", name, idx(dims))

def safetensors(tensors, meta=None):
    header, blobs, off = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw); off += len(raw)
    if meta: header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)

f32 = lambda vals: struct.pack("<%df" % len(vals), *vals)
put("safetensors", "two_tensors", safetensors({"a": ("F32", [2, 2], f32([1, 2, 3, 4])),
                                                "b": ("I64", [3], struct.pack("<3q", 1, -2, 3))}, {"k": "v"}))
put("safetensors", "scalar_f64", safetensors({"s": ("F64", [], struct.pack("<d", 2.5))}))
put("safetensors", "empty", safetensors({}))

w, b = f32([0.1 * i for i in range(6)]), f32([0.5, -0.5, 0.25])
ck = {"fc.weight": ("F32", [3, 2], w), "fc.bias": ("F32", [3], b)}
for p, raw, n in (("fc.weight", w, 6), ("fc.bias", b, 3)):
    ck[f"optim.{p}.exp_avg"] = ("F32", [3, 2] if n == 6 else [3], f32([0.01] * n))
    ck[f"optim.{p}.exp_avg_sq"] = ("F32", [3, 2] if n == 6 else [3], f32([0.001] * n))
    ck[f"optim.{p}.step"] = ("I64", [], struct.pack("<q", 12))
meta = {"format": "graphgrad-1", "epoch": "3", "optimizer": "adam", "best_metric": "0.91",
        "normalize_mean": "0.286", "normalize_std": "0.353", "plateau.lr": "0.001", "plateau.best": "0.4",
        "plateau.num_bad_epochs": "1", "plateau.cooldown_counter": "0"}
put("checkpoint", "adam_epoch3", safetensors(ck, meta))

VOCAB_FORMAT = "graphgrad-vocabulary-1"  # io/vocabulary.cpp kFormat

# Text corpora: plain text (char level; a first byte with the low bit set selects words), and
# vocabulary JSON as a language model's checkpoint records it.
put("text_corpus", "kjv_two_lines", b"In the beginning God created the heaven and the earth.\nAnd the earth was without form, and void.\n")
# (at least 20 tokens: the valid and test parts, 5% each, must not be empty)
put("text_corpus", "word_level", b"\x01word level: the cat sat on the mat; the dog sat too.\n" * 3)
put("text_corpus", "utf8_multibyte", "café naïve € 3—4 über straße ﬁn 日本語 😀\n".encode() * 3)
put("text_corpus", "bom", b"\xef\xbb\xbf" + b"a byte order mark comes first, then plain words\n" * 3)
# Word vectors (word2vec text format): as graphgrad writes them, fastText's trailing spaces,
# CRLF lines, an exponent, a negative zero.
put("word_vectors", "graphgrad", b"3 4\nking 0.1 -0.2 0.30000001 4\nqueen 1e-07 -0 2.5 -3.25\nthe 0 0 0 0\n")
put("word_vectors", "fasttext", b"2 3\n</s> 0.0011 -0.0023 0.0042 \nand 0.52 -1.25 0.5 \n")
put("word_vectors", "crlf_utf8", "2 2\r\ncaf\u00e9 1.5 -2\r\n\u65e5\u672c 3 4\r\n".encode())
put("text_corpus", "vocabulary_char", json.dumps({"format": VOCAB_FORMAT, "kind": "char", "unknown_token": True,
                                                  "lowercase": False, "line_end_token": False,
                                                  "tokens": ["<unk>", "\n", " ", "a", "b", "é"]}).encode())
put("text_corpus", "vocabulary_word", json.dumps({"format": VOCAB_FORMAT, "kind": "word", "unknown_token": True,
                                                  "lowercase": True, "line_end_token": True,
                                                  "tokens": ["<unk>", "<eos>", "the", "cat"]}).encode())
