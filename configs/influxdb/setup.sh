#!/usr/bin/env bash
# One-time InfluxDB 2.x setup for the IOC: organisation, bucket with a
# retention period, and a token for ingest. Run against a fresh InfluxDB:
#   INFLUX_HOST=http://127.0.0.1:8086 ./configs/influxdb/setup.sh
set -euo pipefail
: "${INFLUX_HOST:=http://127.0.0.1:8086}"
: "${IOC_ORG:=ioc}"
: "${IOC_BUCKET:=ioc}"
: "${IOC_RETENTION:=90d}"
influx setup --host "$INFLUX_HOST" --org "$IOC_ORG" --bucket "$IOC_BUCKET" \
  --retention "$IOC_RETENTION" --username admin --force \
  --password "${INFLUX_ADMIN_PASSWORD:?set INFLUX_ADMIN_PASSWORD}"
bucket_id=$(influx bucket list --host "$INFLUX_HOST" --org "$IOC_ORG" --name "$IOC_BUCKET" --hide-headers | cut -f1)
influx auth create --host "$INFLUX_HOST" --org "$IOC_ORG" \
  --description "ioc ingest" --write-bucket "$bucket_id" --read-bucket "$bucket_id"
echo "Put the token above in IOC_INFLUX_TOKEN for ingest."
