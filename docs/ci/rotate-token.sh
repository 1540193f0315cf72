#!/usr/bin/env bash
# Rotating a token: creates a new service token with the same name, checks it against the server,
# writes it to NEW_TOKEN_FILE (mode 0600) for the next step to store as the CI secret, and only then
# deletes the old tokens of that name. A failed step leaves the old token in place.
# Needs STS_CLI_URL, an admin credential, TOKEN_NAME, TOKEN_ROLES (comma-separated) and
# NEW_TOKEN_FILE; TOKEN_LIFETIME defaults to 90d.
set -euo pipefail
: "${STS_CLI_URL:?set STS_CLI_URL to the server URL}"
: "${TOKEN_NAME:?set TOKEN_NAME to the name of the token to rotate}"
: "${TOKEN_ROLES:?set TOKEN_ROLES to its roles, comma-separated}"
: "${NEW_TOKEN_FILE:?set NEW_TOKEN_FILE to where the new token goes}"

old_ids=$(sts service-token list -o json \
    | jq -r --arg n "$TOKEN_NAME" '."service-tokens"[] | select(.name == $n) | .id')
new=$(sts service-token create --name "$TOKEN_NAME" --roles "$TOKEN_ROLES" \
    --expiration "${TOKEN_LIFETIME:-90d}" -o json | jq -r '."service-token".token')
if [[ -n "${GITHUB_ACTIONS:-}" ]]; then echo "::add-mask::$new"; fi

# `context save` checks the new token with GET /server/info (in a throwaway config).
check_dir=$(mktemp -d)
trap 'rm -rf "$check_dir"' EXIT
printf '%s\n' "$new" | STS_CLI_CONFIG="$check_dir/config.toml" sts context save --name check \
    --url "$STS_CLI_URL" --service-token - --insecure-storage >/dev/null

(umask 077 && printf '%s\n' "$new" >"$NEW_TOKEN_FILE")
for id in $old_ids; do
    sts service-token delete "$id"
done
