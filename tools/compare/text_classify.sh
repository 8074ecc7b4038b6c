#!/usr/bin/env bash
# The FastText classifier in graphgrad and Facebook's `fasttext supervised` (Debian's fasttext
# 0.9.2) on the same split of the same corpus with the same hyper-parameters: graphgrad writes
# its stratified split in fastText's format (its own tokens, lowercased, so both see the same
# words), trains its classifier, then fastText trains on train.txt and is tested on test.txt.
# Prints both test accuracies and seconds per epoch; optionally the text CNN too.
#
#   tools/compare/text_classify.sh [--corpus fortune-category|language] [--epochs 5] [--lr 0.1]
#                                  [--dim 100] [--word-ngrams 2] [--buckets 200000] [--threads 1]
#                                  [--cnn] [--seed 1]
#   tools/compare/text_classify.sh --corpus language --cnn
# --threads: fastText's worker threads (1: the same single SGD stream as graphgrad; more
# threads run Hogwild, which changes the result a little). GG (or GG_BUILD_DIR) chooses the
# graphgrad binary (default: build/bin/graphgrad).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/common.sh"
corpus=fortune-category epochs=5 lr=0.1 dim=100 ngrams=2 buckets=200000 threads=1 cnn=0 seed=1
while [ $# -gt 0 ]; do
    case "$1" in
        --corpus) corpus="$2"; shift 2 ;;
        --epochs) epochs="$2"; shift 2 ;;
        --lr) lr="$2"; shift 2 ;;
        --dim) dim="$2"; shift 2 ;;
        --word-ngrams) ngrams="$2"; shift 2 ;;
        --buckets) buckets="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --cnn) cnn=1; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "text_classify.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
require_graphgrad text_classify.sh
if ! command -v fasttext >/dev/null; then
    echo "text_classify.sh: fasttext is not installed: apt-get install -y fasttext" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

common=(--corpus "$corpus" --epochs "$epochs" --seed "$seed")
echo "== graphgrad fasttext_classifier ($corpus)"
# One OpenMP thread: one SGD stream over one text at a time, like `fasttext -thread 1`; more
# threads only add libgomp's spinning to tiny per-text ops (10x slower on a loaded VM).
OMP_NUM_THREADS=1 "$gg" train fasttext_classifier "${common[@]}" --lr "$lr" --dim "$dim" --word-ngrams "$ngrams" \
    --buckets "$buckets" --write-split "$work" --json > "$work/gg.json"
gg_acc=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{100*r['test_accuracy']:.2f} {r['seconds_per_epoch']:.2f} {r['train']} {r['test']}\")" "$work/gg.json")
read -r gg_acc gg_epoch n_train n_test <<< "$gg_acc"

echo "== fasttext supervised (same split: $n_train train, $n_test test texts)"
start=$(date +%s.%N)
fasttext supervised -input "$work/train.txt" -output "$work/ft" -dim "$dim" -epoch "$epochs" -lr "$lr" \
    -wordNgrams "$ngrams" -bucket "$buckets" -minCount 1 -minn 0 -maxn 0 -loss softmax -thread "$threads" \
    -seed "$seed" -verbose 0
end=$(date +%s.%N)
# `fasttext test` prints N, P@1 and R@1; with one label per text P@1 is the accuracy.
ft_acc=$(fasttext test "$work/ft.bin" "$work/test.txt" 1 | awk '/^P@1/ {printf "%.2f", 100 * $2}')
ft_epoch=$(python3 -c "print(f'{($end - $start) / $epochs:.2f}')")

if [ "$cnn" = 1 ]; then
    echo "== graphgrad text_cnn (rand)"
    "$gg" train text_cnn "${common[@]}" --json > "$work/cnn.json"
    cnn_line=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{100*r['test_accuracy']:.2f}% test accuracy, {r['seconds_per_epoch']:.1f} s/epoch\")" "$work/cnn.json")
fi

echo
echo "corpus $corpus: $n_train training texts, $n_test test texts; dim $dim, word n-grams $ngrams, $buckets buckets, lr $lr, $epochs epochs"
printf "  %-32s %6s%% test accuracy, %6s s/epoch\n" "graphgrad fasttext_classifier" "$gg_acc" "$gg_epoch"
printf "  %-32s %6s%% test accuracy, %6s s/epoch (incl. loading, %s thread%s)\n" "fasttext supervised 0.9.2" "$ft_acc" \
    "$ft_epoch" "$threads" "$([ "$threads" = 1 ] || echo s)"
[ "$cnn" = 1 ] && printf "  %-32s %s\n" "graphgrad text_cnn (rand)" "$cnn_line"
diff=$(python3 -c "print(f'{abs($gg_acc - $ft_acc):.2f}')")
echo "  difference: $diff points"
