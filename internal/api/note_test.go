package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ioc-vn/ioc/internal/contract"
	"gopkg.in/yaml.v3"
)

// TestNoteBoundAgrees: a note the API lets through is one the alert
// service accepts, and one the API refuses (note_too_long) the alert
// service would refuse too; openapi.yaml promises the same bound.
func TestNoteBoundAgrees(t *testing.T) {
	for _, n := range []int{0, 1, contract.MaxNoteBytes - 1, contract.MaxNoteBytes, contract.MaxNoteBytes + 1, 2048, 2049} {
		note := strings.Repeat("ư", n/2) + strings.Repeat("x", n%2) // multi-byte text: the bound is in bytes
		rec := httptest.NewRecorder()
		apiOK := checkNote(rec, note)
		if !apiOK {
			var e apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusBadRequest || e.Code != "note_too_long" {
				t.Fatalf("note of %d bytes: API answered %d %s", n, rec.Code, rec.Body)
			}
		}
		for _, c := range []contract.Command{
			{ID: "1", Op: contract.OpAck, Alert: "r/d", By: "van-hanh-1", Note: note},
			{ID: "2", Op: contract.OpResolve, Alert: "r/d", By: "van-hanh-1", Note: note},
			{ID: "3", Op: contract.OpMaintenanceStart, Target: "district:d1", By: "van-hanh-1", Note: note},
		} {
			b, _ := json.Marshal(c)
			_, err := contract.ParseCommand(b)
			if serviceOK := err == nil; serviceOK != apiOK {
				t.Errorf("%s with a note of %d bytes: the API lets it through: %v; the alert service accepts it: %v (%v)", c.Op, n, apiOK, serviceOK, err)
			}
		}
		if want := n <= contract.MaxNoteBytes; apiOK != want {
			t.Errorf("note of %d bytes: API accepts it: %v, want %v", n, apiOK, want)
		}
	}

	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					MaxLength int `yaml:"maxLength"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Components.Schemas["Note"].Properties["note"].MaxLength; got != contract.MaxNoteBytes {
		t.Errorf("openapi.yaml: Note.note maxLength %d, want %d", got, contract.MaxNoteBytes)
	}
}
