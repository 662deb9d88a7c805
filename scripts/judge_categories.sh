#!/usr/bin/env bash
# Judge models on the shared clips re-encoded by category: small (160 px wide) and far (the picture at a
# third of its size, centred in a frame of the original size). docs/MODEL.md "Categories, not clips".
#
#   scripts/judge_categories.sh OUT_DIR MODEL.safetensors [MODEL ...]    (DATA=../shared/data/videos by default)
#
# Writes OUT_DIR/{lowres,far}/videos (the re-encoded clips and labels.csv), OUT_DIR/{lowres,far}.real
# (evaluate-real's tables) and a pose cache per category. Needs ffmpeg; minutes of MediaPipe per category.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 OUT_DIR MODEL.safetensors [MODEL ...]" >&2
    exit 2
fi
out=$1; shift
data=${DATA:-../shared/data/videos}
[ -f "$data/labels.csv" ] || { echo "no labels.csv in $data (set DATA=folder)" >&2; exit 2; }
actionstream=${ACTIONSTREAM:-actionstream}
for kind in lowres far; do
    dir=$out/$kind/videos
    mkdir -p "$dir"
    cp "$data/labels.csv" "$dir/"
    if [ "$kind" = lowres ]; then
        vf="scale=160:-2"
    else
        vf="scale=trunc(iw/6)*2:trunc(ih/6)*2,pad=iw*3:ih*3:(ow-iw)/2:(oh-ih)/2"
    fi
    for clip in "$data"/*; do
        name=$(basename "$clip")
        [ "$name" = labels.csv ] && continue
        ffmpeg -loglevel error -y -i "$clip" -vf "$vf" -c:v libx264 -crf 20 -an "$dir/$name"
    done
    "$actionstream" evaluate-real "$@" --no-seed --data "$out/$kind" --cache-dir "$out/$kind.cache" \
        --out "$out/$kind.real" > "$out/$kind.log"
    echo "$kind: $out/$kind.real/real_eval.md"
done
