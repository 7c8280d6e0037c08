#!/bin/sh
# Publish one reading as an integrator would, with mosquitto_pub (Debian's
# mosquitto-clients), watch _errors with mosquitto_sub, and, when
# IOC_HTTP_URL is set (http://host:8081), send the same over HTTP with curl.
#
# Settings from the environment: IOC_MQTT_HOST (127.0.0.1), IOC_MQTT_PORT
# (1883), IOC_USERNAME, IOC_PASSWORD, IOC_INTEGRATOR (= IOC_USERNAME),
# IOC_DEVICE, IOC_HTTP_URL (optional).
set -eu
host=${IOC_MQTT_HOST:-127.0.0.1}
port=${IOC_MQTT_PORT:-1883}
integrator=${IOC_INTEGRATOR:-$IOC_USERNAME}
topic="ioc/v1/$integrator/$IOC_DEVICE/telemetry"
auth="-h $host -p $port -u $IOC_USERNAME -P $IOC_PASSWORD"

# Wait for one report on _errors (at most 20 s), in the background; -d
# prints the SUBACK (stdbuf: line by line), so we publish only once the
# subscription is in place.
out=$(mktemp)
# shellcheck disable=SC2086
stdbuf -oL mosquitto_sub $auth -d -i "$integrator-example-sh-errors" -q 1 -t "ioc/v1/$integrator/_errors" -C 1 -W 20 >"$out" &
watcher=$!
tries=0
until grep -q SUBACK "$out"; do
  tries=$((tries + 1))
  [ "$tries" -le 100 ] || { echo "no SUBACK for _errors" >&2; exit 1; }
  sleep 0.1
done

# QoS 1: mosquitto_pub exits 0 once the PUBACK came, when the data is stored.
# shellcheck disable=SC2086
mosquitto_pub $auth -i "$integrator-example-sh" -q 1 -t "$topic" -m '{"pm25": 35.2, "temp": 31.5}'
echo "stored: $topic"
# shellcheck disable=SC2086
mosquitto_pub $auth -i "$integrator-example-sh" -q 1 -t "$topic" -m '{"pm25": "high"}'
wait "$watcher" || { echo "no report on _errors" >&2; exit 1; }
echo "refused: $(grep '^{' "$out")"
rm -f "$out"

if [ -n "${IOC_HTTP_URL:-}" ]; then
  # HTTP: 200 once stored; a refusal is a 4xx with the same reason.
  curl -sS --fail-with-body -u "$IOC_USERNAME:$IOC_PASSWORD" --data-binary '{"pm25": 36.1}' \
    "$IOC_HTTP_URL/v1/ingest/$integrator/$IOC_DEVICE/telemetry"
  echo
  code=$(curl -sS -o /dev/null -w '%{http_code}' -u "$IOC_USERNAME:$IOC_PASSWORD" --data-binary '{"pm25": "high"}' \
    "$IOC_HTTP_URL/v1/ingest/$integrator/$IOC_DEVICE/telemetry")
  [ "$code" = 422 ] || { echo "HTTP: a wrong type answered $code, want 422" >&2; exit 1; }
  echo "HTTP: stored, and a wrong type refused with 422"
fi
