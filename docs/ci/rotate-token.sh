#!/usr/bin/env bash
# Rotating a token with `sts service-token rotate`: the new token gets the old one's name, roles
# and subject, is checked against the server (GET /server/info) and written to NEW_TOKEN_FILE
# (mode 0600) for the next step to store as the CI secret; only then is the old token deleted.
# A failed step leaves the old token in place.
# Needs STS_CLI_URL, an admin credential, TOKEN_NAME (exactly one token of that name) and
# NEW_TOKEN_FILE; TOKEN_LIFETIME defaults to 90d.
set -euo pipefail
: "${STS_CLI_URL:?set STS_CLI_URL to the server URL}"
: "${TOKEN_NAME:?set TOKEN_NAME to the name of the token to rotate}"
: "${NEW_TOKEN_FILE:?set NEW_TOKEN_FILE to where the new token goes}"

old_id=$(sts service-token list -o json | jq -r --arg n "$TOKEN_NAME" '
    [."service-tokens"[] | select(.name == $n)]
    | if length == 1 then .[0].id
      else error("expected one token named \($n), found \(length)") end')

# `rotate --save-to-context` stores the new token in a context only after checking it against the
# server. A throwaway context (in a throwaway config; its placeholder token is never sent) takes it.
check_dir=$(mktemp -d)
trap 'rm -rf "$check_dir"' EXIT
export STS_CLI_CONFIG="$check_dir/config.toml"
sts context save --name check --url "$STS_CLI_URL" --service-token placeholder \
    --skip-validate --insecure-storage >/dev/null

new=$(sts service-token rotate "$old_id" --expiration "${TOKEN_LIFETIME:-90d}" \
    --save-to-context check --keep-old -o json | jq -r '."service-token".token')
if [[ -n "${GITHUB_ACTIONS:-}" ]]; then echo "::add-mask::$new"; fi

(umask 077 && printf '%s\n' "$new" >"$NEW_TOKEN_FILE")
sts service-token delete "$old_id"
