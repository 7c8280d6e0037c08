// Package dashboards holds what operators and technicians look at: the
// wall and technician pages the IOC server serves (web/), and Grafana
// dashboards for history (grafana/), provisionable against an InfluxDB
// data source.
package dashboards

import (
	"embed"
	"io/fs"
)

//go:embed web
var web embed.FS

// Web returns the pages: /wall/, /tech/, /login.html and /static/.
func Web() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
