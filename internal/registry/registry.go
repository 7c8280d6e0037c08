// Package registry holds the province's devices: what each is, where it is,
// who owns it, and the tags its points are stored with.
//
// A Registry is immutable once built; reloading builds a new one.
package registry

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/ioc-vn/ioc/internal/point"
	"gopkg.in/yaml.v3"
)

// Kind is what a device is.
type Kind string

const (
	Camera  Kind = "camera"
	NVR     Kind = "nvr"
	Sensor  Kind = "sensor"
	Gateway Kind = "gateway"
	// Unregistered marks a device accepted for discovery although it is not
	// in the registry (ingest's accept_unknown setting).
	Unregistered Kind = "unregistered"
)

func (k Kind) valid() bool { return k == Camera || k == NVR || k == Sensor || k == Gateway }

// Device is one registered device.
type Device struct {
	ID         string  `yaml:"id"`
	Kind       Kind    `yaml:"kind"`
	Name       string  `yaml:"name"`
	District   string  `yaml:"district"`
	Integrator string  `yaml:"integrator"`
	Parent     string  `yaml:"parent,omitempty"`
	Lat        float64 `yaml:"lat"`
	Lon        float64 `yaml:"lon"`
	// Timeout overrides the kind's silence timeout for liveness.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// Profile is what a camera should deliver; status below it is degraded.
	Profile *Profile `yaml:"profile,omitempty"`
	// Commissioning marks a device registered before it is installed: it
	// raises no offline alert until its first accepted message, or until
	// an operator marks it live.
	Commissioning bool `yaml:"commissioning,omitempty"`
	// Retired is when a device taken out of service was retired: it
	// stays in the file (its history is kept and readable) but is no
	// longer watched, counted or alerted on, and its messages are
	// refused (device_retired). Nil: in service.
	Retired *time.Time `yaml:"retired,omitempty"`

	tags []point.Tag
}

// Profile is a camera's expected stream. The API serves it with the
// registry's key names.
type Profile struct {
	FPS         float64 `yaml:"fps" json:"fps"`
	BitrateKbps float64 `yaml:"bitrate_kbps" json:"bitrate_kbps"`
}

// Tags returns the tags stored with every point of the device, sorted by key.
// The slice is shared: do not modify it.
func (d *Device) Tags() []point.Tag { return d.tags }

// District is an administrative area of the province.
type District struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
}

// Integrator is a party that publishes device data.
type Integrator struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// File is the YAML shape of configs/devices.yaml.
type File struct {
	Province    string       `yaml:"province"`
	Districts   []District   `yaml:"districts"`
	Integrators []Integrator `yaml:"integrators"`
	Devices     []Device     `yaml:"devices"`
	// Fields declares the fields each kind of device sends (fields.go).
	Fields Fields `yaml:"fields,omitempty"`
}

// Registry answers which device an id is. Its devices are those in
// service; retired ones are answered apart (Retired, Lookup).
type Registry struct {
	province    string
	devices     map[string]*Device // in service and retired
	order       []string           // in service, file order
	retired     []string           // retired, file order
	districts   map[string]District
	districtIDs []string // file order
	integrators map[string]Integrator
	fields      map[string]DeclaredField // measurement "\x00" field
	kindFields  map[Kind]map[string]bool // which kinds declare which
}

// IDs become MQTT topic levels and InfluxDB tag values: no wildcards,
// separators or spaces. The checks run for every message, hence no regexp.

// ValidDeviceID reports whether id matches [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
func ValidDeviceID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// ValidIntegratorID reports whether id matches [a-z0-9][a-z0-9_-]{0,31}.
func ValidIntegratorID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// Load reads and validates a registry file.
func Load(path string) (*Registry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read device registry: %w", err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("device registry %s: %w", path, err)
	}
	return r, nil
}

// Parse decodes YAML strictly (unknown keys are errors) and validates it.
func Parse(b []byte) (*Registry, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	return New(f)
}

// New validates f and builds a Registry, reporting every problem at once.
func New(f File) (*Registry, error) {
	r := &Registry{
		province:    f.Province,
		devices:     make(map[string]*Device, len(f.Devices)),
		districts:   make(map[string]District, len(f.Districts)),
		integrators: make(map[string]Integrator, len(f.Integrators)),
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, d := range f.Districts {
		if d.ID == "" {
			bad("district with empty id")
		} else if _, dup := r.districts[d.ID]; dup {
			bad("district %q listed twice", d.ID)
		}
		r.districts[d.ID] = d
		r.districtIDs = append(r.districtIDs, d.ID)
	}
	for _, in := range f.Integrators {
		if !ValidIntegratorID(in.ID) {
			bad("integrator id %q: use 1-32 of a-z 0-9 _ -, starting with a letter or digit", in.ID)
		} else if _, dup := r.integrators[in.ID]; dup {
			bad("integrator %q listed twice", in.ID)
		}
		r.integrators[in.ID] = in
	}
	for i := range f.Devices {
		d := f.Devices[i]
		where := fmt.Sprintf("device %q", d.ID)
		switch {
		case !ValidDeviceID(d.ID):
			bad("device #%d id %q: use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit", i+1, d.ID)
			continue
		case r.devices[d.ID] != nil:
			bad("%s listed twice", where)
			continue
		}
		if !d.Kind.valid() {
			bad("%s: kind %q is not one of camera, nvr, sensor, gateway", where, d.Kind)
		}
		if _, ok := r.districts[d.District]; !ok {
			bad("%s: district %q is not in districts", where, d.District)
		}
		if _, ok := r.integrators[d.Integrator]; !ok {
			bad("%s: integrator %q is not in integrators", where, d.Integrator)
		}
		if d.Lat < -90 || d.Lat > 90 || d.Lon < -180 || d.Lon > 180 {
			bad("%s: coordinates %g,%g are not a latitude,longitude", where, d.Lat, d.Lon)
		}
		if d.Name == "" {
			bad("%s: name is empty", where)
		}
		if d.Timeout < 0 {
			bad("%s: timeout %s is negative", where, d.Timeout)
		}
		r.devices[d.ID] = &d
		if d.Retired != nil {
			r.retired = append(r.retired, d.ID)
			continue
		}
		r.order = append(r.order, d.ID)
	}
	for _, id := range append(slices.Clone(r.order), r.retired...) {
		d := r.devices[id]
		if d.Parent == "" {
			continue
		}
		p, ok := r.devices[d.Parent]
		switch {
		case !ok:
			bad("device %q: parent %q is not a registered device", id, d.Parent)
		case p.Kind != NVR && p.Kind != Gateway:
			bad("device %q: parent %q is a %s; parents are nvr or gateway", id, d.Parent, p.Kind)
		case p.Integrator != d.Integrator:
			bad("device %q: parent %q belongs to integrator %q, not %q", id, d.Parent, p.Integrator, d.Integrator)
		}
	}
	errs = append(errs, r.buildFields(f.Fields)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, d := range r.devices {
		d.tags = deviceTags(d)
	}
	return r, nil
}

func deviceTags(d *Device) []point.Tag {
	tags := []point.Tag{
		{Key: "device", Value: d.ID},
		{Key: "district", Value: d.District},
		{Key: "integrator", Value: d.Integrator},
		{Key: "kind", Value: string(d.Kind)},
		{Key: "name", Value: d.Name},
	}
	if d.Parent != "" {
		tags = append(tags, point.Tag{Key: "parent", Value: d.Parent})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}

// Placeholder returns a placeholder for a device that is not in the
// registry, tagged so that it stands out for discovery.
func Placeholder(id, integrator string) *Device {
	d := &Device{ID: id, Kind: Unregistered, Integrator: integrator}
	d.tags = []point.Tag{
		{Key: "device", Value: id},
		{Key: "integrator", Value: integrator},
		{Key: "kind", Value: string(Unregistered)},
	}
	return d
}

// Device returns the device in service with id (not a retired one).
func (r *Registry) Device(id string) (*Device, bool) {
	d, ok := r.devices[id]
	if !ok || d.Retired != nil {
		return nil, false
	}
	return d, ok
}

// Lookup returns the device with id, in service or retired: for what
// outlives service (its history, its name, its accounts in the file).
func (r *Registry) Lookup(id string) (*Device, bool) {
	d, ok := r.devices[id]
	return d, ok
}

// Retired returns the retired devices in file order.
func (r *Registry) Retired() []*Device {
	out := make([]*Device, len(r.retired))
	for i, id := range r.retired {
		out[i] = r.devices[id]
	}
	return out
}

// Devices returns every device in service in file order.
func (r *Registry) Devices() []*Device {
	out := make([]*Device, len(r.order))
	for i, id := range r.order {
		out[i] = r.devices[id]
	}
	return out
}

// Integrator returns the integrator with id.
func (r *Registry) Integrator(id string) (Integrator, bool) {
	in, ok := r.integrators[id]
	return in, ok
}

// District returns the district with id.
func (r *Registry) District(id string) (District, bool) {
	d, ok := r.districts[id]
	return d, ok
}

// Districts returns every district in file order.
func (r *Registry) Districts() []District {
	out := make([]District, len(r.districtIDs))
	for i, id := range r.districtIDs {
		out[i] = r.districts[id]
	}
	return out
}

// Province is the province's display name.
func (r *Registry) Province() string { return r.province }

// Len is the number of registered devices in service.
func (r *Registry) Len() int { return len(r.order) }
