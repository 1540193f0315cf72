#!/usr/bin/env bash
# Nightly expiry check across every saved context: lists the service tokens (every platform) and
# the ingestion API keys (StackState) that expire within EXPIRY_WINDOW (default 14d), and fails
# the job so that it alerts: exit 7 when something expires, the exit code of a context that could
# not be asked (its ⚠️ line on stderr names it), 8 when no context is saved at all (so that a
# saving step that silently did nothing cannot keep the alert green), 0 when nothing expires.
# Needs the saved contexts: a host whose keyring holds them, or contexts saved earlier in the job
# with --insecure-storage from CI secrets (a runner has no keyring).
set -uo pipefail
window="${EXPIRY_WINDOW:-14d}"

worst=0
for noun in service-token ingestion-api-key; do
    code=0
    sts "$noun" list --all-contexts --expiring-within "$window" --fail-if-any || code=$?
    # A context that could not be asked outranks "something expires" (7).
    if ((code != 0 && (worst == 0 || worst == 7))); then worst=$code; fi
done
if ((worst == 0)); then echo "Nothing expires within $window."; fi
exit "$worst"
