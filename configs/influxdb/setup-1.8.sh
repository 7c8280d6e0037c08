#!/usr/bin/env bash
# One-time InfluxDB 1.8 setup for the IOC, against a fresh InfluxDB whose
# /etc/influxdb/influxdb.conf has, in [http]:
#   auth-enabled = true
#   flux-enabled = true    # the IOC server's history and Grafana's Flux need it
# then:
#   INFLUX_ADMIN_PASSWORD=... INFLUX_HOST=http://127.0.0.1:8086 ./configs/influxdb/setup-1.8.sh
# - the admin user (if the server has no user yet);
# - database "ioc" (IOC_DATABASE) whose default retention is IOC_RETENTION
#   (30d); retention policy "long" (IOC_LONG_RETENTION, 2 years) filled
#   every hour by a continuous query with each numeric field's mean (as
#   mean_<field>), as the embedded store keeps hourly rollups;
# - user ioc-ingest, WRITE only, for ingest (IOC_INFLUX_USERNAME and
#   IOC_INFLUX_PASSWORD in /etc/ioc/ingest.env);
# - user ioc-reader, READ only, for the IOC servers and Grafana (the same
#   variables in /etc/ioc/ioc.env).
# Passwords come from IOC_INGEST_PASSWORD and IOC_READER_PASSWORD, or are
# generated and printed. Needs curl.
set -euo pipefail
: "${INFLUX_HOST:=http://127.0.0.1:8086}"
: "${IOC_DATABASE:=ioc}"
: "${IOC_RETENTION:=30d}"
: "${IOC_LONG_RETENTION:=730d}"
admin_pw="${INFLUX_ADMIN_PASSWORD:?set INFLUX_ADMIN_PASSWORD}"
secret() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }
ingest_pw="${IOC_INGEST_PASSWORD:-$(secret)}"
reader_pw="${IOC_READER_PASSWORD:-$(secret)}"
for pw in "$admin_pw" "$ingest_pw" "$reader_pw"; do
  case "$pw" in *"'"* | *'\'*) echo "setup-1.8.sh: passwords must not contain ' or \\" >&2; exit 2 ;; esac
done

# q runs one InfluxQL statement (as admin unless told otherwise) and fails
# on an error, which InfluxDB 1.8 reports inside a 200 answer.
q() {
  local out
  out=$(curl -sS "${@:2}" --data-urlencode "q=$1" "$INFLUX_HOST/query") || { echo "$out" >&2; return 1; }
  case "$out" in *'"error"'*) echo "setup-1.8.sh: $1: $out" >&2; return 1 ;; esac
}
# The first user may be created without credentials; afterwards it exists.
q "CREATE USER admin WITH PASSWORD '$admin_pw' WITH ALL PRIVILEGES" 2>/dev/null ||
  q "SHOW USERS" -u "admin:$admin_pw"
as_admin=(-u "admin:$admin_pw")
q "CREATE DATABASE \"$IOC_DATABASE\" WITH DURATION $IOC_RETENTION" "${as_admin[@]}"
q "CREATE RETENTION POLICY \"long\" ON \"$IOC_DATABASE\" DURATION $IOC_LONG_RETENTION REPLICATION 1" "${as_admin[@]}"
q "CREATE CONTINUOUS QUERY \"hourly_means\" ON \"$IOC_DATABASE\" BEGIN SELECT mean(*) INTO \"$IOC_DATABASE\".\"long\".:MEASUREMENT FROM /.*/ GROUP BY time(1h), * END" "${as_admin[@]}"
q "CREATE USER \"ioc-ingest\" WITH PASSWORD '$ingest_pw'" "${as_admin[@]}"
q "GRANT WRITE ON \"$IOC_DATABASE\" TO \"ioc-ingest\"" "${as_admin[@]}"
q "CREATE USER \"ioc-reader\" WITH PASSWORD '$reader_pw'" "${as_admin[@]}"
q "GRANT READ ON \"$IOC_DATABASE\" TO \"ioc-reader\"" "${as_admin[@]}"
echo "ingest (/etc/ioc/ingest.env):"
echo "  IOC_INFLUX_DATABASE=$IOC_DATABASE IOC_INFLUX_USERNAME=ioc-ingest IOC_INFLUX_PASSWORD=$ingest_pw"
echo "IOC servers and Grafana (/etc/ioc/ioc.env):"
echo "  IOC_INFLUX_DATABASE=$IOC_DATABASE IOC_INFLUX_USERNAME=ioc-reader IOC_INFLUX_PASSWORD=$reader_pw"
