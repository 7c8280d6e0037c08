// Package sim simulates a province for demos, tests and benchmarks: a
// Thái Nguyên-like registry of districts, recorders, cameras and sensors
// (Generate), devices publishing through the real MQTT contract at
// realistic rates with scripted and random incidents (Simulator), and a
// load mode that drives a chosen rate for a chosen time (Load).
package sim

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/ioc-vn/ioc/internal/registry"
)

// The integrators of the simulated province.
const (
	VMS       = "vms-tn"       // cameras and recorders
	Env       = "envsense"     // air quality and water level
	SmartCity = "smartcity-tn" // traffic counters and streetlights
)

// Sensor types, told apart by the device id's prefix.
const (
	AirQuality  = "aq"
	WaterLevel  = "wl"
	Traffic     = "tf"
	Streetlight = "sl"
)

// SensorType is the type of a sensor in a generated province, from its id.
func SensorType(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		switch p := id[:i]; p {
		case AirQuality, WaterLevel, Traffic, Streetlight:
			return p
		}
	}
	return ""
}

type district struct {
	id, name, short string
	lat, lon        float64
	nvrs            int // recorders in the district
}

// The province's nine districts, with approximate centres.
var districts = []district{
	{"tp-thai-nguyen", "TP. Thái Nguyên", "tp", 21.5942, 105.8482, 12},
	{"tp-song-cong", "TP. Sông Công", "songcong", 21.4833, 105.8460, 4},
	{"tp-pho-yen", "TP. Phổ Yên", "phoyen", 21.4160, 105.8720, 4},
	{"dai-tu", "Huyện Đại Từ", "daitu", 21.6400, 105.6400, 4},
	{"dinh-hoa", "Huyện Định Hóa", "dinhhoa", 21.9100, 105.6400, 3},
	{"phu-luong", "Huyện Phú Lương", "phuluong", 21.7600, 105.7300, 3},
	{"dong-hy", "Huyện Đồng Hỷ", "donghy", 21.6700, 105.9200, 3},
	{"vo-nhai", "Huyện Võ Nhai", "vonhai", 21.7600, 106.0700, 3},
	{"phu-binh", "Huyện Phú Bình", "phubinh", 21.4900, 106.0100, 4},
}

// site kinds a recorder watches, with the id stem and the Vietnamese name.
var siteKinds = []struct{ stem, name string }{
	{"ttyt", "Trung tâm Y tế"},
	{"khucachly", "Khu cách ly"},
	{"chot", "Chốt kiểm soát"},
	{"ubnd", "UBND"},
	{"cho", "Chợ"},
	{"benxe", "Bến xe"},
	{"truong", "Trường THPT"},
	{"kcn", "Khu công nghiệp"},
	{"nga-tu", "Nút giao"},
}

// The sample sites of configs/devices.yaml keep their ids, so the examples
// in the docs work against the simulated province too.
var namedSites = []struct {
	id, name, district string
	cameras            int
}{
	{"bvtw", "Bệnh viện Trung ương Thái Nguyên", "tp-thai-nguyen", 12},
	{"khucach-ly", "Khu cách ly KTX Đại học Thái Nguyên", "tp-thai-nguyen", 10},
	{"chot-songcong", "Chốt kiểm soát Sông Công", "tp-song-cong", 8},
	{"ttyt-daitu", "Trung tâm Y tế Đại Từ", "dai-tu", 8},
}

// Sensors per district, by type: 200 in all.
var sensorCounts = map[string][4]int{ // aq, wl, tf, sl
	"tp-thai-nguyen": {26, 6, 18, 24},
	"tp-song-cong":   {8, 4, 5, 7},
	"tp-pho-yen":     {8, 4, 5, 7},
	"dai-tu":         {6, 4, 2, 2},
	"dinh-hoa":       {5, 4, 2, 2},
	"phu-luong":      {5, 4, 2, 2},
	"dong-hy":        {5, 4, 2, 2},
	"vo-nhai":        {4, 4, 2, 1},
	"phu-binh":       {5, 4, 2, 3},
}

var streets = []string{"Hoàng Văn Thụ", "Lương Ngọc Quyến", "Phan Đình Phùng", "Bắc Kạn", "Quang Trung",
	"Cách Mạng Tháng Tám", "Minh Cầu", "Đội Cấn", "Thống Nhất", "Z115", "Dương Tự Minh", "Túc Duyên"}

// Generate builds the simulated province, the same for the same seed:
// 9 districts, 40 recorders with 8 to 16 cameras each, a gateway per
// district, and 200 sensors.
func Generate(seed uint64) registry.File {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f := registry.File{
		Province: "Thái Nguyên",
		Integrators: []registry.Integrator{
			{ID: VMS, Name: "Hệ thống VMS Thái Nguyên"},
			{ID: Env, Name: "Quan trắc môi trường Thái Nguyên"},
			{ID: SmartCity, Name: "Hạ tầng đô thị thông minh Thái Nguyên"},
		},
		Fields: Fields(),
	}
	near := func(d district, spread float64) (float64, float64) {
		return round5(d.lat + (r.Float64()*2-1)*spread), round5(d.lon + (r.Float64()*2-1)*spread)
	}
	byID := map[string]district{}
	for _, d := range districts {
		f.Districts = append(f.Districts, registry.District{ID: d.id, Name: d.name})
		byID[d.id] = d
	}
	addRecorder := func(id, name string, d district, cameras int) {
		lat, lon := near(d, 0.04)
		f.Devices = append(f.Devices, registry.Device{ID: "nvr-" + id, Kind: registry.NVR, Name: "Đầu ghi " + name,
			District: d.id, Integrator: VMS, Lat: lat, Lon: lon})
		for c := 1; c <= cameras; c++ {
			profile := &registry.Profile{FPS: 25, BitrateKbps: 2048}
			if c%4 == 0 {
				profile = &registry.Profile{FPS: 15, BitrateKbps: 1024}
			}
			f.Devices = append(f.Devices, registry.Device{ID: fmt.Sprintf("cam-%s-%02d", id, c), Kind: registry.Camera,
				Parent: "nvr-" + id, Name: fmt.Sprintf("Camera %02d %s", c, name), District: d.id, Integrator: VMS,
				Lat: round5(lat + (r.Float64()*2-1)*0.002), Lon: round5(lon + (r.Float64()*2-1)*0.002), Profile: profile})
		}
	}
	recorders := map[string]int{}
	for _, s := range namedSites {
		addRecorder(s.id, s.name, byID[s.district], s.cameras)
		recorders[s.district]++
	}
	for _, d := range districts {
		for n := 1; recorders[d.id] < d.nvrs; n++ {
			k := siteKinds[(n-1+len(d.short))%len(siteKinds)]
			id := fmt.Sprintf("%s-%s-%d", k.stem, d.short, n)
			addRecorder(id, fmt.Sprintf("%s %s %d", k.name, strings.TrimPrefix(strings.TrimPrefix(d.name, "Huyện "), "TP. "), n), d, 8+r.IntN(9))
			recorders[d.id]++
		}
	}
	for _, d := range districts {
		gw := "gw-env-" + d.short
		lat, lon := near(d, 0.01)
		f.Devices = append(f.Devices, registry.Device{ID: gw, Kind: registry.Gateway, Name: "Bộ thu phát quan trắc " + d.name,
			District: d.id, Integrator: Env, Lat: lat, Lon: lon})
		counts := sensorCounts[d.id]
		for t, typ := range []string{AirQuality, WaterLevel, Traffic, Streetlight} {
			for n := 1; n <= counts[t]; n++ {
				id := fmt.Sprintf("%s-%s-%02d", typ, d.short, n)
				lat, lon := near(d, 0.06)
				dev := registry.Device{ID: id, Kind: registry.Sensor, District: d.id, Lat: lat, Lon: lon}
				street := streets[r.IntN(len(streets))]
				switch typ {
				case AirQuality:
					dev.Name, dev.Integrator, dev.Parent = fmt.Sprintf("Trạm không khí %s %02d", d.name, n), Env, gw
				case WaterLevel:
					dev.Name, dev.Integrator, dev.Parent = fmt.Sprintf("Mực nước %s %02d", d.name, n), Env, gw
				case Traffic:
					dev.Name, dev.Integrator = fmt.Sprintf("Đếm xe đường %s (%s) %02d", street, d.name, n), SmartCity
				case Streetlight:
					dev.Name, dev.Integrator = fmt.Sprintf("Đèn đường %s (%s) %02d", street, d.name, n), SmartCity
				}
				f.Devices = append(f.Devices, dev)
			}
		}
	}
	return f
}

// Fields declares what the simulated devices send beyond plain numbers, and
// the units of their readings: the same declarations as configs/devices.yaml
// (TestSampleFieldsMatch), which also covers the examples of docs/MQTT.md
// and docs/INTEGRATORS.md.
func Fields() registry.Fields {
	f := func(t registry.FieldType, unit string) registry.FieldDecl {
		return registry.FieldDecl{Type: t, Unit: unit}
	}
	return registry.Fields{
		registry.Camera: {
			"event": {"zone": f(registry.String, ""), "confidence": f(registry.Float, "0..1")},
		},
		registry.NVR: {
			"status": {"cameras": f(registry.Float, "cameras"), "disks_failed": f(registry.Float, "disks")},
		},
		registry.Gateway: {
			"status": {"uptime_s": f(registry.Float, "s")},
		},
		registry.Sensor: {
			"telemetry": {
				"pm25": f(registry.Float, "µg/m³"), "pm10": f(registry.Float, "µg/m³"),
				"temp": f(registry.Float, "°C"), "humidity": f(registry.Float, "%"),
				"door_open": f(registry.Bool, ""), "note": f(registry.String, ""),
				"water_level_cm": f(registry.Float, "cm"), "trend": f(registry.String, ""),
				"vehicles": f(registry.Float, "vehicles"), "avg_speed_kmh": f(registry.Float, "km/h"),
				"on": f(registry.Bool, ""), "lamp_on": f(registry.Bool, ""), "mode": f(registry.String, ""),
				"power_w": f(registry.Float, "W"), "energy_wh": f(registry.Float, "Wh"), "energy_wh_sum": f(registry.Float, "Wh"),
			},
			"river":   {"level_cm": f(registry.Float, "cm"), "flow_m3s": f(registry.Float, "m³/s"), "rain_mm": f(registry.Int, "mm")},
			"battery": {"volts": f(registry.Float, "V")},
		},
	}
}

func round5(v float64) float64 {
	x, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 5, 64), 64)
	return x
}

// WriteYAML writes f as a registry file, one device per line.
func WriteYAML(w io.Writer, f registry.File, header string) error {
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "province: %q\ndistricts:\n", f.Province)
	for _, d := range f.Districts {
		fmt.Fprintf(&b, "  - {id: %s, name: %q}\n", d.ID, d.Name)
	}
	b.WriteString("integrators:\n")
	for _, i := range f.Integrators {
		fmt.Fprintf(&b, "  - {id: %s, name: %q}\n", i.ID, i.Name)
	}
	b.WriteString("devices:\n")
	for _, d := range f.Devices {
		fmt.Fprintf(&b, "  - {id: %s, kind: %s, name: %q, district: %s, integrator: %s", d.ID, d.Kind, d.Name, d.District, d.Integrator)
		if d.Parent != "" {
			fmt.Fprintf(&b, ", parent: %s", d.Parent)
		}
		fmt.Fprintf(&b, ", lat: %s, lon: %s", strconv.FormatFloat(d.Lat, 'f', 5, 64), strconv.FormatFloat(d.Lon, 'f', 5, 64))
		if d.Timeout > 0 {
			fmt.Fprintf(&b, ", timeout: %s", d.Timeout)
		}
		if p := d.Profile; p != nil {
			fmt.Fprintf(&b, ", profile: {fps: %g, bitrate_kbps: %g}", p.FPS, p.BitrateKbps)
		}
		b.WriteString("}\n")
	}
	if len(f.Fields) > 0 {
		b.WriteString("# Field types and units per device kind and measurement (configs/devices.yaml\n# explains them); undeclared fields must be numbers.\nfields:\n")
		for _, k := range slices.Sorted(maps.Keys(f.Fields)) {
			fmt.Fprintf(&b, "  %s:\n", k)
			for _, m := range slices.Sorted(maps.Keys(f.Fields[k])) {
				fmt.Fprintf(&b, "    %s:\n", m)
				for _, name := range slices.Sorted(maps.Keys(f.Fields[k][m])) {
					d := f.Fields[k][m][name]
					if d.Unit == "" {
						fmt.Fprintf(&b, "      %s: %s\n", name, d.Type)
					} else {
						fmt.Fprintf(&b, "      %s: {type: %s, unit: %q}\n", name, d.Type, d.Unit)
					}
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Header is the comment at the top of configs/province.yaml.
const Header = `# The simulated province (sim.Generate, seed 1): 9 districts, 40 recorders
# with 8-16 cameras each, a gateway per district and 200 sensors. Generated:
#   go run ./cmd/simulate gen > configs/province.yaml
# Sensor types by id prefix: aq- air quality, wl- water level, tf- traffic
# counter, sl- streetlight. The sample sites of configs/devices.yaml keep
# their ids (nvr-bvtw, cam-bvtw-01, ...).
`
