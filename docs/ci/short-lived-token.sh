#!/usr/bin/env bash
# A short-lived token for one job: creates a service token that expires in a day, runs the job's
# command with it in STS_CLI_SERVICE_TOKEN (and nothing else), and deletes the token when the
# command ends, whether it passed or failed.
# Usage: short-lived-token.sh COMMAND [ARG...]
# Needs STS_CLI_URL and an admin credential (STS_CLI_API_TOKEN or STS_CLI_SERVICE_TOKEN).
set -euo pipefail
: "${STS_CLI_URL:?set STS_CLI_URL to the server URL}"
(($#)) || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

name="ci-job-${GITHUB_RUN_ID:-${CI_JOB_ID:-local}}-$$"
roles="${JOB_TOKEN_ROLES:-stackstate-k8s-troubleshooter}"
token=$(sts service-token create --name "$name" --roles "$roles" --expiration 1d -o json \
    | jq -r '."service-token".token')
# GitHub Actions hides the value if it ever reaches the log.
if [[ -n "${GITHUB_ACTIONS:-}" ]]; then echo "::add-mask::$token"; fi

delete_job_token() {
    sts service-token list -o json \
        | jq -r --arg n "$name" '."service-tokens"[] | select(.name == $n) | .id' \
        | while read -r id; do sts service-token delete "$id" >/dev/null; done
}
trap delete_job_token EXIT

env -u STS_CLI_API_TOKEN STS_CLI_SERVICE_TOKEN="$token" "$@"
