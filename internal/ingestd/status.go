package ingestd

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/ioc-vn/ioc/internal/ingest"
	"github.com/ioc-vn/ioc/internal/spool"
	"github.com/ioc-vn/ioc/internal/store"
)

// status is what the status page shows.
type status struct {
	At           time.Time     `json:"at"`
	MQTT         bool          `json:"mqtt_connected"`
	Database     string        `json:"database"` // "ok" or the error
	InFlight     int           `json:"in_flight"`
	InFlightMax  int           `json:"in_flight_max"`
	Pipeline     string        `json:"pipeline"`
	Spool        *spool.Status `json:"spool,omitempty"`
	SpoolPercent float64       `json:"-"`
}

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		}
		return fmt.Sprintf("%d KiB", n>>10)
	},
	"age": func(d time.Duration) string { return d.Round(time.Second).String() },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>IOC ingest status</title>
<style>body{font:16px system-ui,sans-serif;margin:2em;background:#0b1220;color:#e6edf6}
table{border-collapse:collapse}td,th{padding:.35em 1em;text-align:left;border-bottom:1px solid #263247}
.bad{color:#ff6b6b;font-weight:bold}.ok{color:#3ddc84}</style></head><body>
<h1>IOC ingest</h1>
<p>{{.At.Format "2006-01-02 15:04:05 MST"}} · refreshes every 5 s · <a href="/metrics" style="color:#8ab4ff">metrics</a></p>
<table>
<tr><th>MQTT</th><td>{{if .MQTT}}<span class="ok">connected</span>{{else}}<span class="bad">not connected</span>{{end}}</td></tr>
<tr><th>Database</th><td>{{if eq .Database "ok"}}<span class="ok">ok</span>{{else}}<span class="bad">{{.Database}}</span>{{end}}</td></tr>
<tr><th>Messages not yet acknowledged</th><td>{{.InFlight}} of {{.InFlightMax}}</td></tr>
<tr><th>Pipeline</th><td>{{.Pipeline}}</td></tr>
{{with .Spool}}
<tr><th>Spool</th><td>{{if .Full}}<span class="bad">FULL: not acknowledging, the broker holds new messages</span>{{else}}<span class="ok">accepting</span>{{end}}</td></tr>
<tr><th>Spool size</th><td id="spool-bytes">{{bytes .Bytes}} of {{bytes .MaxBytes}} ({{printf "%.1f" $.SpoolPercent}} %), {{.Entries}} batches</td></tr>
<tr><th>Oldest spooled batch</th><td id="spool-oldest">{{age .Oldest}}</td></tr>
<tr><th>Drain rate</th><td id="spool-rate">{{printf "%.0f" .DrainRate}} points/s ({{.Drained}} since start)</td></tr>
{{if .DatabaseErr}}<tr><th>Last database error</th><td class="bad">{{.DatabaseErr}}</td></tr>{{end}}
{{else}}
<tr><th>Spool</th><td>off (embedded store, or spool.enabled false)</td></tr>
{{end}}
</table></body></html>
`))

// statusPage serves the ingest's status as HTML, or JSON with ?format=json.
func statusPage(client source, st store.Store, pipe *ingest.Pipeline, sp *spool.Spool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := status{At: time.Now(), MQTT: client.Connected(), Database: "ok", Pipeline: "ok"}
		s.InFlight, s.InFlightMax = pipe.InFlight()
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			s.Database = err.Error()
		}
		if err := pipe.Ready(); err != nil {
			s.Pipeline = err.Error()
		}
		if sp != nil {
			ss := sp.Status()
			s.Spool = &ss
			s.SpoolPercent = 100 * float64(ss.Bytes) / float64(ss.MaxBytes)
		}
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(s)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = statusTmpl.Execute(w, s)
	})
}
