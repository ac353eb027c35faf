#!/usr/bin/env bash
# The main job: start an Embargo log on its embedded default storage (files + sled under
# ./demo-data) and walk a model through its life: register a platform and an auditor, commit a
# real ONNX model with a short embargo and a timelocked escrow, watch it go sealed -> due while
# the platform logs a batch of its model's decisions and hands out receipts, the platform does
# nothing more, the escrow opens with the beacon's round signature, anyone fetches and verifies
# the model and replays the receipts against it, and an auditor runs two fairness suites on it
# with signed, logged reports. The log
# keeps running afterwards, with its URL printed; Ctrl-C stops it.
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
bin=${CARGO_TARGET_DIR:-$root/target}/release/embargo
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

step "keys: one for the log (its name is the log's origin), the platform, an auditor, three trustees"
log_vkey=$($bin keygen --name localhost/embargo-demo --out log.key)
platform_vkey=$($bin keygen --name social.example --out platform.key)
auditor_vkey=$($bin keygen --name audits.example --out auditor.key)
trustees=()
for t in 1 2 3; do trustees+=(--trustee "$($bin keygen --name trustee-$t.example --out trustee-$t.key)"); done
echo "log vkey:      $log_vkey"
echo "platform vkey: $platform_vkey"

step "a local drand-style beacon for the escrow (quicknet works the same, with a real delay)"
show "$bin" escrow test-beacon new beacon --period 1

step "start the log: tiles, bundles and checkpoint as files under $dir/log, indexes in sled"
"$bin" serve --data "$dir/log" --key log.key --listen "127.0.0.1:$port" \
  --interval 100ms --min-embargo 5s --grace 1h --beacon-chain beacon/chain.json >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$url/checkpoint" >/dev/null && break; sleep 0.1; done
curl -sf "$url/checkpoint" >/dev/null || { cat "$dir/serve.log"; exit 1; }
echo "log running at $url"

step "the operator registers the platform and the auditor (registration entries signed by the log)"
show "$bin" platform add social.example --vkey "$platform_vkey" --display-name "Social Example" --log "$url"
show "$bin" auditor add audits.example --vkey "$auditor_vkey" --display-name "Audits Example" --log "$url"

step "the platform's model: a real income classifier (logistic regression on UCI Adult, ONNX)"
mkdir -p model
cp "$root/tests/fixtures/audit/adult-logreg.onnx" model/adult-logreg.onnx
show "$bin" digest model/adult-logreg.onnx

step "commit to it, sealed for 30 seconds, with the model deposited in a timelocked escrow"
echo "(it opens with the beacon's round at reveal_at, or with 2 of the 3 trustees' shares)"
commitment=$(show "$bin" commit model/adult-logreg.onnx --log "$url" --key platform.key --name feed-ranker \
  --version 2026.11 --reveal-after 30s --purpose "home feed ranking" --vkey "$log_vkey" \
  --escrow tlock --beacon beacon/chain.json --trustees 2 "${trustees[@]}" | tail -n 1)
show "$bin" verify --vkey "$log_vkey" --entry feed-ranker-2026.11.entry.json feed-ranker-2026.11.tlog-proof

step "while sealed, the platform logs what the model decided: a batch of 20 rankings, a receipt each"
"$root/.venv-audit/bin/python" "$root/scripts/demo_decisions.py" model/adult-logreg.onnx \
  "$root/../shared/datasets/adult.csv" social.example "$commitment" 20 decisions.jsonl
show "$bin" batch decisions.jsonl --log "$url" --key platform.key --commitment "$commitment" \
  --receipts receipts --vkey "$log_vkey"
receipt=$(find receipts -name '*.receipt.json' | sort | head -n 1)
echo "a user checks their receipt offline: record -> batch root -> log inclusion -> checkpoint"
show "$bin" receipt verify "$receipt" --vkey "$log_vkey"

step "while sealed, nobody can fetch it, and the escrow does not open early"
show "$bin" fetch "$commitment" --log "$url" --vkey "$log_vkey" --out fetched || true
lock=$(curl -sf "$url/v1/commitments/$commitment" | python3 -c 'import json,sys; print(json.load(sys.stdin)["escrow"]["lock_round"])')
sig=$("$bin" escrow test-beacon sign beacon --round "$lock" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["signature"], d["chain_hash"])')
show "$bin" escrow beacon --log "$url" --round "$lock" --signature "${sig% *}" --chain "${sig#* }" || true

step "watch the commitment: sealed -> due (the platform never reveals it)"
last=""
for _ in $(seq 60); do
  status=$("$bin" status --log "$url" "$commitment")
  state=$(echo "$status" | awk '{print $2}')
  [ "$state" != "$last" ] && { echo "$status"; last=$state; }
  [ "$state" = due ] && break
  sleep 0.5
done
sleep 1

step "anyone hands the log the round's signature: it verifies it, opens the escrow, checks the digest"
show "$bin" escrow beacon --log "$url" --round "$lock" --signature "${sig% *}" --chain "${sig#* }" >/dev/null
show "$bin" status --log "$url" "$commitment"

step "anyone fetches it and verifies the digest, the log's proofs and its consistency"
show "$bin" fetch "$commitment" --log "$url" --vkey "$log_vkey" --out fetched
cmp model/adult-logreg.onnx fetched/adult-logreg.onnx && echo "fetched bytes are identical to the committed model"

step "anyone replays the receipts against the revealed model: same scores, same order"
show "$bin" replay receipts --commitment "$commitment" --log "$url" --vkey "$log_vkey"
echo "(and against another model, the replay fails: exit 1)"
show "$bin" replay receipts --model "$root/tests/fixtures/audit/adult-gbm.onnx" --vkey "$log_vkey" \
  | tail -n 3 || true

step "the auditor runs two fairness suites on the revealed model and logs signed reports"
echo "(data: UCI Adult, Becker and Kohavi 1996, CC BY 4.0; exit 0 pass, 1 fail)"
# The predictive-parity suite of tests/fixtures, pointed at this model (and at the data by path).
sed -e 's/adult-gbm.onnx/adult-logreg.onnx/' -e "s#^path = .*#path = \"$root/../shared/datasets/adult.csv\"#" \
  "$root/tests/fixtures/audit/adult-predictive-parity.toml" >predictive-parity.toml
for suite in predictive-parity.toml "$root/tests/fixtures/audit/adult-four-fifths.toml"; do
  show "$bin" audit "$suite" --commitment "$commitment" --log "$url" --vkey "$log_vkey" \
    --out "audit-$(basename "$suite" .toml)" --submit --key auditor.key | tail -n 4 && verdict=pass || verdict=fail
  echo "-> $(basename "$suite" .toml): $verdict"
done

step "the log, as any tlog client sees it"
show curl -s "$url/checkpoint"
echo "tiles: $(cd "$dir/log" && find tile -type f | sort | tr '\n' ' ')"
echo "website: $url/commitments/$commitment"

if [ "${EMBARGO_DEMO_EXIT:-0}" = 1 ]; then
  step "done (EMBARGO_DEMO_EXIT=1: stopping the log)"
  exit 0
fi
step "the log keeps running at $url (vkey $log_vkey); Ctrl-C stops it"
wait $server
