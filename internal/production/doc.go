// Package production holds the tests of the production kit as shipped:
// configs/*-production.yaml, configs/mosquitto, configs/influxdb and the
// README's production section, followed literally with real Mosquitto,
// InfluxDB 1.8 and the built ingest and ioc binaries.
package production
