// Package influx stores points in InfluxDB through influxdb-client-go/v2:
// InfluxDB 2.x (org, bucket, token) or 1.8+ (database/retention-policy as
// the bucket, "user:password" as the token) over the v2 write and Flux query
// API.
//
// Batching and retries are the caller's: Write sends exactly the points it
// is given as one request and classifies failures into store's error
// classes, so ingest can acknowledge MQTT messages only once InfluxDB has
// answered 204 for their points.
package influx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/ioc-vn/ioc/internal/point"
	"github.com/ioc-vn/ioc/internal/store"
)

// Config selects the server and the database.
type Config struct {
	URL string `yaml:"url"`
	// InfluxDB 2.x.
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`
	Token  string `yaml:"token"`
	// InfluxDB 1.8+: used when Database is set.
	Database        string `yaml:"database"`
	RetentionPolicy string `yaml:"retention_policy"`
	Username        string `yaml:"username"`
	Password        string `yaml:"password"`
	// Timeout bounds one HTTP request.
	Timeout time.Duration `yaml:"timeout"`
	// Gzip compresses write bodies: worth it when InfluxDB is across a network.
	Gzip bool `yaml:"gzip"`
}

// bucket returns the v2 bucket name and token for either server generation.
func (c Config) bucket() (org, bucket, token string) {
	if c.Database != "" {
		b := c.Database
		if c.RetentionPolicy != "" {
			b += "/" + c.RetentionPolicy
		}
		tok := ""
		if c.Username != "" {
			tok = c.Username + ":" + c.Password
		}
		return "", b, tok
	}
	return c.Org, c.Bucket, c.Token
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("influx.url is empty")
	}
	if c.Database == "" && (c.Bucket == "" || c.Org == "") {
		return errors.New("influx: set org and bucket (InfluxDB 2.x) or database (InfluxDB 1.8)")
	}
	return nil
}

// Store is an InfluxDB-backed store.Store.
type Store struct {
	client influxdb2.Client
	write  api.WriteAPIBlocking
	query  api.QueryAPI
	bucket string

	bufPool sync.Pool
}

var _ store.Store = (*Store)(nil)

// New connects lazily: the first request dials.
func New(c Config) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	org, bucket, token := c.bucket()
	opts := influxdb2.DefaultOptions().
		SetHTTPRequestTimeout(uint(c.Timeout / time.Second)).
		SetUseGZip(c.Gzip).
		SetPrecision(time.Nanosecond).
		SetApplicationName("ioc-ingest")
	client := influxdb2.NewClientWithOptions(strings.TrimRight(c.URL, "/"), token, opts)
	return &Store{
		client: client,
		write:  client.WriteAPIBlocking(org, bucket),
		query:  client.QueryAPI(org),
		bucket: bucket,
	}, nil
}

// Write sends pts as one line-protocol request.
func (s *Store) Write(ctx context.Context, pts []point.Point) error {
	if len(pts) == 0 {
		return nil
	}
	bp, _ := s.bufPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf := (*bp)[:0]
	for i := range pts {
		if i > 0 {
			buf = append(buf, '\n')
		}
		buf = point.AppendLine(buf, &pts[i])
	}
	err := s.write.WriteRecord(ctx, string(buf))
	*bp = buf
	s.bufPool.Put(bp)
	return classify(err)
}

// WriteLines implements store.LineWriter: the lines are sent as they are.
func (s *Store) WriteLines(ctx context.Context, lines []byte) error {
	lines = bytes.TrimRight(lines, "\n")
	if len(lines) == 0 {
		return nil
	}
	return classify(s.write.WriteRecord(ctx, string(lines)))
}

// classify maps the client's errors onto store's error classes.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var he *ihttp.Error
	if !errors.As(err, &he) {
		return fmt.Errorf("influx write: %w", err)
	}
	switch {
	case he.StatusCode == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("influx write: %w: %s", store.ErrTooLarge, he.Message)
	case he.StatusCode == http.StatusBadRequest || he.StatusCode == http.StatusUnprocessableEntity:
		return &store.RejectedError{Err: fmt.Errorf("influx %d: %s", he.StatusCode, he.Message)}
	case he.RetryAfter > 0:
		return &store.RetryAfterError{Err: fmt.Errorf("influx write %d: %s", he.StatusCode, he.Message), After: time.Duration(he.RetryAfter) * time.Second}
	case he.StatusCode == 0:
		return fmt.Errorf("influx write: %w", he.Err)
	}
	return fmt.Errorf("influx write %d: %s", he.StatusCode, he.Message)
}

// Query implements store.Store with a Flux range query.
func (s *Store) Query(ctx context.Context, q store.Query) ([]point.Point, error) {
	filter := "r.device == " + fluxString(q.Device)
	if q.Measurement != "" {
		filter += " and r._measurement == " + fluxString(q.Measurement)
	}
	return s.points(ctx, filter, q.From, q.To, 0)
}

// Scan implements store.Store.
func (s *Store) Scan(ctx context.Context, q store.ScanQuery) ([]point.Point, error) {
	if q.Measurement == "" || q.Limit <= 0 {
		return nil, errors.New("influx scan: needs a measurement and a limit")
	}
	return s.points(ctx, "r._measurement == "+fluxString(q.Measurement), q.From, q.To, q.Limit)
}

// points reads the records in [from, to) that pass filter (a Flux
// predicate on r) back into points; limit, if positive, bounds the points.
func (s *Store) points(ctx context.Context, filter string, from, to time.Time, limit int) ([]point.Point, error) {
	flux := fmt.Sprintf("from(bucket: %s)\n  |> range(start: %s, stop: %s)\n  |> filter(fn: (r) => %s)",
		fluxString(s.bucket), from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano), filter)
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx query: %w", queryError(err))
	}
	defer res.Close()
	byKey := map[string]int{}
	var out []point.Point
	for res.Next() {
		r := res.Record()
		if !r.Time().Before(to) {
			continue // InfluxDB 1.8's Flux includes the stop instant; the contract excludes it
		}
		var tags []point.Tag
		for k, v := range r.Values() {
			if strings.HasPrefix(k, "_") || k == "result" || k == "table" {
				continue
			}
			sv, ok := v.(string)
			if !ok || sv == "" {
				continue
			}
			tags = append(tags, point.Tag{Key: k, Value: sv})
		}
		sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
		f, err := field(r.Field(), r.Value())
		if err != nil {
			return nil, err
		}
		var key strings.Builder
		fmt.Fprint(&key, r.Time().UnixNano(), "\x00", r.Measurement())
		for _, t := range tags {
			key.WriteString("\x00" + t.Key + "=" + t.Value)
		}
		i, ok := byKey[key.String()]
		if !ok {
			if limit > 0 && len(out) == limit {
				return nil, fmt.Errorf("influx scan: %w (%d)", store.ErrTooMany, limit)
			}
			i = len(out)
			byKey[key.String()] = i
			out = append(out, point.Point{Measurement: r.Measurement(), Tags: tags, Time: r.Time()})
		}
		out[i].Fields = append(out[i].Fields, f)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx query: %w", err)
	}
	store.Normalize(out)
	return out, nil
}

// FirstSeen implements store.Store: the first record of each series
// (Flux's first() per table), the earliest per device.
func (s *Store) FirstSeen(ctx context.Context, before time.Time) (map[string]time.Time, error) {
	// InfluxDB 1.8's Flux includes the stop instant; the contract excludes it.
	flux := fmt.Sprintf("from(bucket: %s)\n  |> range(start: 1970-01-01T00:00:00Z, stop: %s)"+
		"\n  |> filter(fn: (r) => exists r.device and r.device != \"\")\n  |> first()\n  |> keep(columns: [\"_time\", \"device\"])",
		fluxString(s.bucket), before.Add(-time.Nanosecond).UTC().Format(time.RFC3339Nano))
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx first seen: %w", queryError(err))
	}
	defer res.Close()
	out := map[string]time.Time{}
	for res.Next() {
		r := res.Record()
		dev, _ := r.ValueByKey("device").(string)
		if dev == "" || !r.Time().Before(before) {
			continue
		}
		if t, ok := out[dev]; !ok || r.Time().Before(t) {
			out[dev] = r.Time()
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx first seen: %w", err)
	}
	return out, nil
}

// LastSeen implements store.Store: the last record of each series of
// the device's own measurements (Flux's last() per table), the latest
// per device.
func (s *Store) LastSeen(ctx context.Context) (map[string]time.Time, error) {
	flux := fmt.Sprintf("from(bucket: %s)\n  |> range(start: 1970-01-01T00:00:00Z)"+
		"\n  |> filter(fn: (r) => exists r.device and r.device != \"\" and r._measurement != \"alert\" and r._measurement != \"maintenance\")"+
		"\n  |> last()\n  |> keep(columns: [\"_time\", \"device\"])", fluxString(s.bucket))
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx last seen: %w", queryError(err))
	}
	defer res.Close()
	out := map[string]time.Time{}
	for res.Next() {
		r := res.Record()
		dev, _ := r.ValueByKey("device").(string)
		if dev == "" {
			continue
		}
		if t, ok := out[dev]; !ok || r.Time().After(t) {
			out[dev] = r.Time()
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx last seen: %w", err)
	}
	return out, nil
}

// Aggregate implements store.Store. A Flux mean over a field that is not
// numeric fails the whole query, so a first query (last value of each
// field) finds the numeric fields, and a second averages only those, per
// epoch-aligned window, in the database.
func (s *Store) Aggregate(ctx context.Context, q store.AggregateQuery) ([]store.Series, error) {
	if q.Every <= 0 {
		return nil, errors.New("influx aggregate: window must be positive")
	}
	// InfluxDB 1.8's Flux includes the stop instant; the contract excludes it.
	stop := q.To.Add(-time.Nanosecond)
	var sel strings.Builder
	fmt.Fprintf(&sel, "from(bucket: %s)\n  |> range(start: %s, stop: %s)\n  |> filter(fn: (r) => r.device == %s",
		fluxString(s.bucket), q.From.UTC().Format(time.RFC3339Nano), stop.UTC().Format(time.RFC3339Nano), fluxString(q.Device))
	if q.Measurement != "" {
		fmt.Fprintf(&sel, " and r._measurement == %s", fluxString(q.Measurement))
	}
	sel.WriteString(")")

	type key struct{ m, f string }
	numeric := map[key]bool{}
	res, err := s.query.Query(ctx, sel.String()+"\n  |> last()")
	if err != nil {
		return nil, fmt.Errorf("influx aggregate: %w", queryError(err))
	}
	for res.Next() {
		switch res.Record().Value().(type) {
		case float64, int64, uint64:
			numeric[key{res.Record().Measurement(), res.Record().Field()}] = true
		}
	}
	err = res.Err()
	res.Close()
	if err != nil {
		return nil, fmt.Errorf("influx aggregate: %w", err)
	}
	if len(numeric) == 0 {
		return nil, nil
	}
	var cond []string
	for k := range numeric {
		cond = append(cond, fmt.Sprintf("(r._measurement == %s and r._field == %s)", fluxString(k.m), fluxString(k.f)))
	}
	sort.Strings(cond)
	flux := fmt.Sprintf("%s\n  |> filter(fn: (r) => %s)\n  |> toFloat()\n  |> group(columns: [\"_measurement\", \"_field\"])"+
		"\n  |> aggregateWindow(every: %dns, fn: mean, createEmpty: false, timeSrc: \"_start\")",
		sel.String(), strings.Join(cond, " or "), int64(q.Every))
	res, err = s.query.Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx aggregate: %w", err)
	}
	defer res.Close()
	idx := map[key]int{}
	var out []store.Series
	for res.Next() {
		r := res.Record()
		v, ok := r.Value().(float64)
		if !ok {
			continue
		}
		k := key{r.Measurement(), r.Field()}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, store.Series{Measurement: k.m, Field: k.f})
		}
		// A window clipped by the range start is labelled with the range
		// start; label it with its epoch-aligned start instead.
		out[i].Samples = append(out[i].Samples, store.Sample{Time: store.WindowStart(r.Time(), q.Every), Mean: v})
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx aggregate: %w", err)
	}
	for i := range out {
		sm := out[i].Samples
		sort.Slice(sm, func(a, b int) bool { return sm[a].Time.Before(sm[b].Time) })
	}
	store.SortSeries(out)
	return out, nil
}

func field(key string, v any) (point.Field, error) {
	switch x := v.(type) {
	case float64:
		return point.FloatField(key, x), nil
	case int64:
		return point.IntField(key, x), nil
	case uint64:
		return point.IntField(key, int64(x)), nil
	case string:
		return point.StringField(key, x), nil
	case bool:
		return point.BoolField(key, x), nil
	}
	return point.Field{}, fmt.Errorf("influx query: field %s has unexpected type %T", key, v)
}

// queryError says what to change when InfluxDB 1.8 refuses Flux, which
// history needs and 1.8 leaves off by default; its own message varies
// between releases and ends in a newline.
func queryError(err error) error {
	if strings.Contains(err.Error(), "Flux query service disabled") {
		return fmt.Errorf("InfluxDB 1.8 answers Flux queries (history) only with flux-enabled = true in the [http] section of influxdb.conf: %s", strings.TrimSpace(err.Error()))
	}
	return err
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("influx ping: %w", err)
	}
	if !ok {
		return errors.New("influx ping: not ready")
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.client.Close()
	return nil
}

// fluxString quotes s as a Flux string literal. Go's %q is not one: Flux
// interpolates ${...} inside string literals, so a measurement or device
// name from a request could run an expression; and Go's \x/\u escapes are
// not Flux's. Backslash, double quote and dollar are escaped; control
// characters are dropped (no name the server stores contains one).
func fluxString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"' || r == '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
