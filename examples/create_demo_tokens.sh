#!/usr/bin/env bash
# Print `export ...` lines with fresh one-day API tokens for passport_visa_api.sh:
#   eval "$(bash examples/create_demo_tokens.sh)"
# Run it from the checkout, against the database `make run` serves (WAYPOINT_DATABASE_URL, default
# instance/waypoint.db). It also creates the two service accounts the example uses, each allowed
# to deliver one message and holding no role at all.
set -euo pipefail
WAYPOINT="${WAYPOINT:-.venv/bin/waypoint}"
"$WAYPOINT" service-accounts add passport_office --message passport_issued --name "Passport office link" >&2
"$WAYPOINT" service-accounts add embassy --message visa_decision --name "Embassy link" >&2
for pair in JDOE_TOKEN:jdoe PPATEL_TOKEN:ppatel PASSPORT_OFFICE_TOKEN:passport_office EMBASSY_TOKEN:embassy; do
  echo "export ${pair%%:*}=$("$WAYPOINT" tokens create "${pair#*:}" --name curl-example --expires-days 1)"
done
