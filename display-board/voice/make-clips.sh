#!/usr/bin/env bash
# Regenerates the board's recorded voice clips (GB/T 7.1: every call is announced).
# Fully offline: espeak-ng speaks each piece, sox trims the silence around it and stores
# it as 16 kHz mono 16-bit WAV. The clips are committed; run this only to change them.
#
#   apt-get install espeak-ng sox
#   bash display-board/voice/make-clips.sh
set -euo pipefail
cd "$(dirname "$0")"
ZH_SPEED=${ZH_SPEED:-170}
EN_SPEED=${EN_SPEED:-150}

clip() { # clip LANG VOICE NAME TEXT
    local tmp
    tmp=$(mktemp --suffix=.wav)
    espeak-ng -v "$2" -s "$([ "$1" = zh ] && echo "$ZH_SPEED" || echo "$EN_SPEED")" -w "$tmp" "$4"
    # Trim leading and trailing silence, then resample to 16 kHz mono 16-bit.
    sox "$tmp" -r 16000 -c 1 -b 16 "$1/$3.wav" norm -1 \
        silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse
    rm -f "$tmp"
}

mkdir -p zh en
rm -f zh/*.wav en/*.wav

zh_digits=(零 一 二 三 四 五 六 七 八 九)
en_digits=(zero one two three four five six seven eight nine)
for d in 0 1 2 3 4 5 6 7 8 9; do
    clip zh cmn "$d" "${zh_digits[$d]}"
    clip en en "$d" "${en_digits[$d]}"
done
for l in {A..Z}; do
    # Letters on tickets are read the English way in both languages.
    clip zh cmn "$l" "$l"
    clip en en "$l" "$l"
done

# Chinese: 请 A012 号到 3 号窗口; counter numbers as words (十, 二十三).
clip zh cmn qing "请"
clip zh cmn hao_dao "号到"
clip zh cmn shi "十"
clip zh cmn hao_chuangkou "号窗口"

# English: Ticket A012, please go to counter 3; counter numbers as words.
clip en en ticket "Ticket"
clip en en please_go_to_counter "please go to counter"
teens=(ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen)
for i in 0 1 2 3 4 5 6 7 8 9; do
    clip en en "1$i" "${teens[$i]}"
done
tens=(x x twenty thirty forty fifty sixty seventy eighty ninety)
for t in 2 3 4 5 6 7 8 9; do
    clip en en "${t}0" "${tens[$t]}"
done
echo "clips written: $(ls zh | wc -l) zh, $(ls en | wc -l) en"
