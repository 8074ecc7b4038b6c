#!/usr/bin/env bash
# graphgrad's word2vec against Debian's fastText 0.9.2 (`fasttext skipgram -minn 0 -maxn 0` is
# word2vec's skip-gram with negative sampling) on the same token stream and hyper-parameters:
# words/second per thread for both, and the overlap of their top-10 cosine neighbours for 20
# frequent words (plus, as a yardstick, the overlap between two fastText runs with different
# seeds). graphgrad draws negatives by count^0.5 here, as fastText does (word2vec: ^0.75).
#
#   tools/compare/word2vec.sh                       # KJV Bible, 5 epochs, 2 threads
#   EPOCHS=1 THREADS=2 tools/compare/word2vec.sh /path/to/text.txt
#
# Both read the text as lowercase ASCII words (everything else is a separator), 1000 words per
# line: word2vec.c's sentence length, which graphgrad uses, and under fastText's 1024-word
# line limit, so both see the same sentences (fastText adds its "</s>" token per line).
set -euo pipefail
cd "$(dirname "$0")/../.."
GG=${GG:-build/bin/graphgrad}
EPOCHS=${EPOCHS:-5}
THREADS=${THREADS:-2}
DIM=${DIM:-100}
LR=${LR:-0.025}
SAMPLE=${SAMPLE:-1e-4}
command -v fasttext >/dev/null || { echo "word2vec.sh: needs fasttext (apt-get install fasttext)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/gg_w2v.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

TEXT=${1:-}
if [ -z "$TEXT" ]; then
  TEXT=${XDG_CACHE_HOME:-$HOME/.cache}/graphgrad/kjv.txt
  [ -s "$TEXT" ] || { mkdir -p "$(dirname "$TEXT")"; bible "gen1:1-rev22:21" > "$TEXT"; }
fi
tr -c 'A-Za-z' ' ' < "$TEXT" | tr 'A-Z' 'a-z' | tr -s ' ' '\n' | grep -v '^$' |
  awk '{ printf "%s%s", $0, (NR % 1000 == 0 ? "\n" : " ") } END { print "" }' > "$WORK/text.txt"
echo "text: $TEXT -> $(wc -w < "$WORK/text.txt") words; dim $DIM, window 5, negative 5, min count 5, $EPOCHS epochs, lr $LR, sample $SAMPLE, $THREADS threads"

FT_ARGS=(-minn 0 -maxn 0 -dim "$DIM" -ws 5 -neg 5 -minCount 5 -epoch "$EPOCHS" -thread "$THREADS" -lr "$LR" -t "$SAMPLE")
ft_run() {  # $1: output prefix, $2: seed; prints fastText's last words/sec/thread and the wall time
  local t0 t1
  t0=$(date +%s.%N)
  fasttext skipgram -input "$WORK/text.txt" -output "$1" "${FT_ARGS[@]}" -seed "$2" 2> "$1.log" > /dev/null
  t1=$(date +%s.%N)
  local wps
  wps=$(tr '\r' '\n' < "$1.log" | grep -o 'words/sec/thread: *[0-9]*' | tail -1 | grep -o '[0-9]*$')
  echo "$wps $(echo "$t1 - $t0" | bc)"
}
echo "fasttext skipgram ${FT_ARGS[*]}"
read -r FT_WPS FT_SECS < <(ft_run "$WORK/ft" 0)
echo "  fastText: $FT_WPS words/s/thread (its progress line), $FT_SECS s wall"

GG_ARGS=(--text "$WORK/text.txt" --dim "$DIM" --window 5 --negative 5 --min-count 5 --epochs "$EPOCHS" --threads "$THREADS"
         --lr "$LR" --sample "$SAMPLE" --noise-power 0.5 --arch skipgram --json)
# graphgrad's kernels are OpenMP parallel regions (~20 per step); libgomp spin-waits at their
# barriers, which on a loaded machine (other processes on the cores) costs up to 4x. fastText's
# threads never meet, so it does not see this. Both waiting policies are measured; the faster
# is compared (as tools/compare does for PyTorch, see TOOLCHAIN.md).
gg_run() {  # $1: OMP_WAIT_POLICY; prints words/s/thread and seconds
  local json
  json=$(OMP_WAIT_POLICY=$1 "$GG" train word2vec "${GG_ARGS[@]}" --out "$WORK/gg_$1")
  echo "$json" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(round(j["words_per_second_per_thread"]), round(j["seconds"], 1), round(j["final_loss"], 3))'
}
echo "$GG train word2vec ${GG_ARGS[*]}"
read -r GA_WPS GA_SECS GA_LOSS < <(gg_run ACTIVE)
echo "  graphgrad, OMP_WAIT_POLICY=ACTIVE (libgomp's default): $GA_WPS words/s/thread, $GA_SECS s, final loss $GA_LOSS"
read -r GP_WPS GP_SECS GP_LOSS < <(gg_run PASSIVE)
echo "  graphgrad, OMP_WAIT_POLICY=PASSIVE: $GP_WPS words/s/thread, $GP_SECS s, final loss $GP_LOSS"
if [ "$GA_WPS" -ge "$GP_WPS" ]; then GG_WPS=$GA_WPS; cp "$WORK/gg_ACTIVE.vec" "$WORK/gg.vec"
else GG_WPS=$GP_WPS; cp "$WORK/gg_PASSIVE.vec" "$WORK/gg.vec"; fi
read -r FT2_WPS _ < <(ft_run "$WORK/ft2" 7)  # the yardstick: fastText itself with another seed

/usr/bin/python3 - "$WORK" "$GG_WPS" "$FT_WPS" <<'PY'
import sys, numpy as np
work, gg_wps, ft_wps = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def load(path):
    with open(path, encoding="utf-8") as f:
        v, d = map(int, f.readline().split())
        words, rows = [], []
        for line in f:
            p = line.rstrip().split(" ")
            words.append(p[0]); rows.append([float(x) for x in p[1:]])
    m = np.array(rows, dtype=np.float64)
    m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return {w: i for i, w in enumerate(words)}, words, m
ft = load(f"{work}/ft.vec"); ft2 = load(f"{work}/ft2.vec"); gg = load(f"{work}/gg.vec")
# 20 frequent content words: fastText's vocabulary is sorted by count; skip the 60 most
# frequent (mostly function words) and "</s>".
probe = [w for w in ft[1][60:] if w in gg[0] and w != "</s>" and len(w) > 3][:20]
def top(model, w, k=10):
    idx, words, m = model
    s = m @ m[idx[w]]
    s[idx[w]] = -2
    if "</s>" in idx: s[idx["</s>"]] = -2
    return [words[i] for i in np.argsort(-s)[:k]]
o_gg = [len(set(top(gg, w)) & set(top(ft, w))) / 10 for w in probe]
o_ft = [len(set(top(ft2, w)) & set(top(ft, w))) / 10 for w in probe]
print(f"words/s/thread: graphgrad {gg_wps:.0f}, fastText {ft_wps:.0f}: ratio {gg_wps / ft_wps:.2f}")
print(f"top-10 neighbour overlap over {len(probe)} words: graphgrad vs fastText {np.mean(o_gg):.2f}; "
      f"fastText vs fastText with another seed {np.mean(o_ft):.2f}")
for w in probe[:5]:
    print(f"  {w}: graphgrad {', '.join(top(gg, w, 5))} | fastText {', '.join(top(ft, w, 5))}")
PY
