#!/usr/bin/env bash
# A passport and visa request driven through Waypoint's JSON API with nothing but curl:
# Jane Doe (jdoe) asks for travel documents, the passport officer (ppatel) and Jane complete their
# tasks, the passport office and the embassy deliver the `passport_issued` and `visa_decision`
# messages, and the request moves on to the passport sign-out.
#
# Needs a running Waypoint (`make run`) and four API tokens; see examples/README.md, or:
#   eval "$(bash examples/create_demo_tokens.sh)"
#   bash examples/passport_visa_api.sh
set -euo pipefail

BASE="${WAYPOINT_URL:-http://127.0.0.1:5000}/api/v1"
: "${JDOE_TOKEN:?set JDOE_TOKEN (waypoint tokens create jdoe)}"
: "${PPATEL_TOKEN:?set PPATEL_TOKEN (waypoint tokens create ppatel)}"
: "${PASSPORT_OFFICE_TOKEN:?set PASSPORT_OFFICE_TOKEN (see examples/README.md)}"
: "${EMBASSY_TOKEN:?set EMBASSY_TOKEN (see examples/README.md)}"
RUN="$(date +%s)$RANDOM"   # makes this run's references and idempotency keys unique

# api TOKEN METHOD PATH [JSON BODY] [curl options...]: the response body on stdout; exits on an HTTP error
api() {
  local token=$1 method=$2 path=$3 body=${4:-}
  shift 3; [ $# -gt 0 ] && shift
  local args=(--silent --show-error -X "$method" "$BASE$path" -H "Authorization: Bearer $token"
              -H "Accept: application/json" -w '\n%{http_code}')
  [ -n "$body" ] && args+=(-H "Content-Type: application/json" --data "$body")
  local out status
  out=$(curl "${args[@]}" "$@")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$status" -ge 400 ]; then
    echo "HTTP $status from $method $path: $out" >&2
    exit 1
  fi
  printf '%s' "$out"
}

# field NAME: the first "NAME":value of the JSON on stdin (the API answers compact JSON with sorted keys)
field() {
  grep -o "\"$1\": *\(\"[^\"]*\"\|[^,}]*\)" | head -n 1 | sed -e "s/^\"$1\": *//" -e 's/^"//' -e 's/"$//'
}

# task INSTANCE ELEMENT: the id of the open task of that BPMN element (as the passport officer sees it)
task() {
  local id
  id=$(api "$PPATEL_TOKEN" GET "/tasks?scope=visible&status=ready&instance=$1&element=$2" | field id)
  [ -n "$id" ] || { echo "request #$1 has no open task $2" >&2; exit 1; }
  printf '%s' "$id"
}

# complete TOKEN TASK_ID DATA: complete a task, guarded by its current ETag (If-Match); prints the next tasks
complete() {
  local etag
  etag=$(curl --silent --show-error -o /dev/null -D - "$BASE/tasks/$2" -H "Authorization: Bearer $1" |
         tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  api "$1" POST "/tasks/$2/complete" "{\"data\": $3}" -H "If-Match: $etag" -H "Idempotency-Key: $RUN-$2" |
    grep -o '"next_tasks":\[[^]]*\]' | grep -o '"name":"[^"]*"' | sed 's/"name":/    next: /' || true
}

echo "== who is who"
for token in "$JDOE_TOKEN" "$PPATEL_TOKEN" "$PASSPORT_OFFICE_TOKEN" "$EMBASSY_TOKEN"; do
  echo "  $(api "$token" GET /me | field username)"
done

echo "== jdoe starts a passport and visa request (China, no valid passport)"
START='{"process": "passport_visa", "data": {"traveller_name": "Jane Doe", "trip_start_date": "2027-03-08",
  "trip_end_date": "2027-03-11", "destinations": ["China"], "travel_purpose": "Liaison meeting",
  "passport_type": "official", "current_passport": {"held": false}}}'
ID=$(api "$JDOE_TOKEN" POST /instances "$START" -H "Idempotency-Key: $RUN-start" | field id)
AGAIN=$(api "$JDOE_TOKEN" POST /instances "$START" -H "Idempotency-Key: $RUN-start" | field id)
[ -n "$ID" ] && [ "$ID" = "$AGAIN" ]
echo "  request #$ID (a retry with the same Idempotency-Key answers #$AGAIN: no second request)"

echo "== ppatel prepares the passport application"
T=$(task "$ID" UserTask_prepare_passport_application)
complete "$PPATEL_TOKEN" "$T" \
  "{\"application_ref\": \"PPT-$RUN\", \"application_type\": \"new\"}"
echo "== jdoe supplies photos and forms"
T=$(task "$ID" UserTask_supply_passport_documents)
complete "$JDOE_TOKEN" "$T" \
  '{"photos_supplied": true, "application_form_signed": true}'
echo "== ppatel submits the application; the request waits for the passport office"
T=$(task "$ID" UserTask_submit_passport_application)
complete "$PPATEL_TOKEN" "$T" \
  '{"passport_submitted_on": "2026-11-20", "submission_channel": "courier"}'

echo "== the passport office posts passport_issued (correlated on application_ref)"
api "$PASSPORT_OFFICE_TOKEN" POST /messages "{\"name\": \"passport_issued\", \"payload\": {\"application_ref\":
  \"PPT-$RUN\", \"passport_number\": \"DP$RUN\", \"expiry_date\": \"2032-05-01\"}}" | grep -o '"delivered_to":\[{[^]]*"id":[0-9]*' |
  sed 's/.*"id":/  delivered to request #/'

echo "== ppatel prepares and submits the visa application; the request waits for the embassy"
T=$(task "$ID" UserTask_prepare_visa_application)
complete "$PPATEL_TOKEN" "$T" \
  "{\"visa_ref\": \"V-CN-$RUN\", \"visa_mission\": \"Embassy of China, Ottawa\"}"
T=$(task "$ID" UserTask_submit_visa_application)
complete "$PPATEL_TOKEN" "$T" '{"visa_submitted_on": "2026-11-25"}'

echo "== the embassy posts visa_decision"
DECISION="{\"name\": \"visa_decision\", \"correlation\": {\"visa_ref\": \"V-CN-$RUN\"},
  \"payload\": {\"visa_ref\": \"V-CN-$RUN\", \"decision\": \"granted\", \"decided_on\": \"2026-12-01\"}}"
api "$EMBASSY_TOKEN" POST /messages "$DECISION" -H "Idempotency-Key: $RUN-visa" |
  grep -o '"delivered_to":\[{[^]]*"id":[0-9]*' | sed 's/.*"id":/  delivered to request #/'

echo "== the request moved on: ppatel signs the passport out"
T=$(task "$ID" UserTask_sign_out_passport)
complete "$PPATEL_TOKEN" "$T" '{"passport_signed_out_on": "2027-03-05", "traveller_acknowledged": true}'

echo "== request #$ID now"
api "$JDOE_TOKEN" GET "/instances/$ID" | grep -o '"status":"[^"]*"' | head -n 1 | sed 's/^/  /'
api "$JDOE_TOKEN" GET "/tasks?scope=visible&status=ready&instance=$ID" | grep -o '"name":"[^"]*"' | sed 's/"name":/  open: /'
echo "done"
