package influx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
	"github.com/ioc-vn/ioc/internal/store/influx"
	"github.com/ioc-vn/ioc/internal/store/storetest"
	"github.com/ioc-vn/ioc/internal/testenv"
)

func TestContract(t *testing.T) {
	srv := testenv.StartInflux(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		db := fmt.Sprintf("contract%d", n)
		srv.InfluxQL(t, "CREATE DATABASE "+db)
		s, err := influx.New(influx.Config{URL: srv.URL, Database: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestFluxDisabledSaysSo: InfluxDB 1.8 serves history through Flux only
// with flux-enabled = true in its [http] section (off by default); without
// it the error names the setting, so the history API's 502 tells the
// sysadmin what to change.
func TestFluxDisabledSaysSo(t *testing.T) {
	srv := testenv.StartInfluxWith(t, testenv.InfluxOptions{NoFlux: true})
	srv.InfluxQL(t, "CREATE DATABASE ioc")
	s, err := influx.New(influx.Config{URL: srv.URL, Database: "ioc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	_, aerr := s.Aggregate(context.Background(), store.AggregateQuery{Device: "aq-tp-01", From: now.Add(-time.Hour), To: now, Every: time.Minute})
	_, qerr := s.Query(context.Background(), store.Query{Device: "aq-tp-01", From: now.Add(-time.Hour), To: now})
	for _, err := range []error{aerr, qerr} {
		if err == nil || !strings.Contains(err.Error(), "flux-enabled = true in the [http] section of influxdb.conf") || strings.HasSuffix(err.Error(), "\n") {
			t.Errorf("query with Flux disabled: %q; want one line naming flux-enabled = true in influxdb.conf's [http]", err)
		}
	}
}

// TestNamesAreNotFluxExpressions: a device or measurement name from a
// request is a string to InfluxDB, never code. Flux interpolates ${...} in
// string literals, which Go's %q left alone: the device `${r.device}`
// compared every row's device with itself and returned every device's
// readings.
func TestNamesAreNotFluxExpressions(t *testing.T) {
	srv := testenv.StartInflux(t)
	srv.InfluxQL(t, "CREATE DATABASE ioc")
	s, err := influx.New(influx.Config{URL: srv.URL, Database: "ioc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now().Truncate(time.Second)
	var p point.Point
	p.Measurement = "telemetry"
	p.SetTag("device", "aq-secret-01")
	p.Fields = []point.Field{point.FloatField("pm25", 42)}
	p.Time = now.Add(-time.Minute)
	if err := s.Write(context.Background(), []point.Point{p}); err != nil {
		t.Fatal(err)
	}
	from, to := now.Add(-time.Hour), now.Add(time.Minute)
	if got, err := s.Query(context.Background(), store.Query{Device: "aq-secret-01", From: from, To: to}); err != nil || len(got) != 1 {
		t.Fatalf("the device's own reading: %d points, %v; want 1", len(got), err)
	}
	for _, name := range []string{`${r.device}`, `${r._measurement}`, `x${r._value}`, `a"b`, `c\d`} {
		q := store.Query{Device: name, From: from, To: to}
		if name == `${r._measurement}` {
			q = store.Query{Device: "aq-secret-01", Measurement: name, From: from, To: to}
		}
		got, qerr := s.Query(context.Background(), q)
		agg, aerr := s.Aggregate(context.Background(), store.AggregateQuery{Device: q.Device, Measurement: q.Measurement, From: from, To: to, Every: time.Minute})
		if qerr != nil || aerr != nil || len(got) != 0 || len(agg) != 0 {
			t.Errorf("name %q: %d points (%v), %d windows (%v); want nothing", name, len(got), qerr, len(agg), aerr)
		}
	}
}
