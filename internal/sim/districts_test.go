package sim

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestDistrictBoundaries: the shipped boundaries are what the generator
// makes from the shipped outline, each district of the province has one,
// and the simulated devices lie in their own district's polygon (nearly
// all: the polygons are approximate).
func TestDistrictBoundaries(t *testing.T) {
	outline, err := os.ReadFile("../../configs/province-outline.geojson")
	if err != nil {
		t.Fatal(err)
	}
	got, err := DistrictBoundaries(outline)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile("../../configs/province-districts.geojson")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(shipped), bytes.TrimSpace(got)) {
		t.Error("configs/province-districts.geojson differs from `go run ./cmd/simulate districts`: regenerate it")
	}
	var fc struct {
		Features []struct {
			Properties struct{ District string }
			Geometry   struct{ Coordinates [][][2]float64 }
		}
	}
	if err := json.Unmarshal(got, &fc); err != nil {
		t.Fatal(err)
	}
	rings := map[string][][2]float64{}
	for _, f := range fc.Features {
		rings[f.Properties.District] = f.Geometry.Coordinates[0]
	}
	prov := Generate(1)
	for _, d := range prov.Districts {
		if len(rings[d.ID]) < 4 {
			t.Errorf("district %s has no polygon", d.ID)
		}
	}
	in, all := 0, 0
	for _, d := range prov.Devices {
		all++
		if inside(rings[d.District], d.Lon, d.Lat) {
			in++
		}
	}
	if in < all*95/100 {
		t.Errorf("%d of %d devices lie in their district's polygon, want at least 95%%", in, all)
	}
	t.Logf("%d of %d devices in their district's polygon", in, all)
}

// inside: ray casting.
func inside(ring [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		a, b := ring[i], ring[j]
		if (a[1] > y) != (b[1] > y) && x < (b[0]-a[0])*(y-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}
