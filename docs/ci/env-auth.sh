#!/usr/bin/env bash
# Env-var auth: no config file and no keyring on the runner. The server and a service token come
# from CI variables (STS_CLI_URL, STS_CLI_SERVICE_TOKEN, stored as masked secrets).
set -euo pipefail
: "${STS_CLI_URL:?set STS_CLI_URL to the server URL}"
: "${STS_CLI_SERVICE_TOKEN:?set STS_CLI_SERVICE_TOKEN to a service token}"

# Piped output has no colour and no wrapped rows; --no-headers leaves only the rows.
sts service-token list --no-headers | cut -d'|' -f2 | sed 's/^ *//; s/ *$//'
# JSON for anything a script reads.
sts ingestion-api-key list -o json | jq -r '."ingestion-api-keys" | length'
