#!/usr/bin/env bash
# One-time InfluxDB 2.x setup for the IOC, against a fresh InfluxDB:
#   INFLUX_ADMIN_PASSWORD=... INFLUX_HOST=http://127.0.0.1:8086 ./configs/influxdb/setup.sh
# - organisation "ioc", bucket "ioc" (raw data, IOC_RETENTION, default 30d)
#   and bucket "ioc_1h" (hourly means, IOC_LONG_RETENTION, default 2 years),
#   as the embedded store keeps raw samples and hourly rollups;
# - the downsampling task (downsample.flux) filling ioc_1h every hour;
# - a token for ingest (write and read ioc) and one for the ioc servers
#   and Grafana (read both buckets).
set -euo pipefail
cd "$(dirname "$0")"
: "${INFLUX_HOST:=http://127.0.0.1:8086}"
: "${IOC_ORG:=ioc}"
: "${IOC_BUCKET:=ioc}"
: "${IOC_RETENTION:=30d}"
: "${IOC_LONG_RETENTION:=730d}"
influx setup --host "$INFLUX_HOST" --org "$IOC_ORG" --bucket "$IOC_BUCKET" \
  --retention "$IOC_RETENTION" --username admin --force \
  --password "${INFLUX_ADMIN_PASSWORD:?set INFLUX_ADMIN_PASSWORD}"
influx bucket create --host "$INFLUX_HOST" --org "$IOC_ORG" --name "${IOC_BUCKET}_1h" --retention "$IOC_LONG_RETENTION"
raw=$(influx bucket list --host "$INFLUX_HOST" --org "$IOC_ORG" --name "$IOC_BUCKET" --hide-headers | cut -f1)
long=$(influx bucket list --host "$INFLUX_HOST" --org "$IOC_ORG" --name "${IOC_BUCKET}_1h" --hide-headers | cut -f1)
sed "s/\"ioc\"/\"$IOC_BUCKET\"/; s/\"ioc_1h\"/\"${IOC_BUCKET}_1h\"/" downsample.flux |
  influx task create --host "$INFLUX_HOST" --org "$IOC_ORG" -f -
echo "ingest token (IOC_INFLUX_TOKEN for ingest):"
influx auth create --host "$INFLUX_HOST" --org "$IOC_ORG" \
  --description "ioc ingest" --write-bucket "$raw" --read-bucket "$raw"
echo "reader token (IOC_INFLUX_TOKEN for the ioc servers; Grafana):"
influx auth create --host "$INFLUX_HOST" --org "$IOC_ORG" \
  --description "ioc servers and grafana" --read-bucket "$raw" --read-bucket "$long"
