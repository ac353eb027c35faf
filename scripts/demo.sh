#!/usr/bin/env bash
# The main job: start an Embargo log on its embedded default storage (files + sled under
# ./demo-data) and walk a model through its life: register a platform, commit the model with
# a short embargo, watch it go sealed -> due, reveal it, fetch and verify it. The log keeps
# running afterwards, with its URL printed; Ctrl-C stops it.
#
#   EMBARGO_DEMO_PORT=8080   where the log listens
#   EMBARGO_DEMO_DIR=./demo-data
#   EMBARGO_DEMO_EXIT=1      stop the log at the end instead of leaving it running
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh
echo "== building embargo (release)"
cargo build --release --quiet
bin=$root/target/release/embargo
port=${EMBARGO_DEMO_PORT:-8080}
dir=${EMBARGO_DEMO_DIR:-$root/demo-data}
url=http://127.0.0.1:$port

rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
export EMBARGO_OPERATOR_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
export EMBARGO_STATE=$dir/client-state.json
step() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*" | sed "s#$bin#embargo#g"; "$@"; }

step "keys: one for the log (its name is the log's origin), one for the platform"
log_vkey=$($bin keygen --name localhost/embargo-demo --out log.key)
platform_vkey=$($bin keygen --name social.example --out platform.key)
echo "log vkey:      $log_vkey"
echo "platform vkey: $platform_vkey"

step "start the log: tiles, bundles and checkpoint as files under $dir/log, indexes in sled"
"$bin" serve --data "$dir/log" --key log.key --listen "127.0.0.1:$port" \
  --interval 100ms --min-embargo 5s --grace 1h >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$url/checkpoint" >/dev/null && break; sleep 0.1; done
curl -sf "$url/checkpoint" >/dev/null || { cat "$dir/serve.log"; exit 1; }
echo "log running at $url"

step "the operator registers the platform (a registration entry signed by the log)"
show "$bin" platform add social.example --vkey "$platform_vkey" --display-name "Social Example" --log "$url"

step "the platform's ranking model: weights, config and tokenizer"
mkdir -p model/tokenizer
head -c 4194304 /dev/urandom > model/weights.bin
printf '{"architecture":"two-tower","layers":4,"embedding_dim":64}\n' > model/config.json
printf 'news\nsports\nmusic\n' > model/tokenizer/vocab.txt
show "$bin" digest model

step "commit to it, sealed for 10 seconds"
commitment=$(show "$bin" commit model --log "$url" --key platform.key --name feed-ranker --version 2026.11 \
  --reveal-after 10s --purpose "home feed ranking" --vkey "$log_vkey" | tail -n 1)
show "$bin" verify --vkey "$log_vkey" --entry feed-ranker-2026.11.entry.json feed-ranker-2026.11.tlog-proof

step "while sealed, nobody but the platform can reveal it, and nobody can fetch it"
show "$bin" reveal model --log "$url" --commitment "$commitment" --vkey "$log_vkey" || true
show "$bin" fetch "$commitment" --log "$url" --vkey "$log_vkey" --out fetched || true

step "watch the commitment: sealed -> due"
last=""
for _ in $(seq 60); do
  status=$("$bin" status --log "$url" "$commitment")
  state=$(echo "$status" | awk '{print $2}')
  [ "$state" != "$last" ] && { echo "$status"; last=$state; }
  [ "$state" = due ] && break
  sleep 0.5
done

step "reveal: anyone holding the right bytes may, now that it is due"
show "$bin" reveal model --log "$url" --commitment "$commitment" --vkey "$log_vkey"
show "$bin" status --log "$url" "$commitment"

step "an auditor fetches it and verifies the digest, the log's proofs and its consistency"
show "$bin" fetch "$commitment" --log "$url" --vkey "$log_vkey" --out fetched
diff -r model fetched && echo "fetched bytes are identical to the committed model"

step "the log, as any tlog client sees it"
show curl -s "$url/checkpoint"
echo "tiles: $(cd "$dir/log" && find tile -type f | sort | tr '\n' ' ')"

if [ "${EMBARGO_DEMO_EXIT:-0}" = 1 ]; then
  step "done (EMBARGO_DEMO_EXIT=1: stopping the log)"
  exit 0
fi
step "the log keeps running at $url (vkey $log_vkey); Ctrl-C stops it"
wait $server
