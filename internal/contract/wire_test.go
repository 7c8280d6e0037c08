package contract

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	note := func(n int) string { return strings.Repeat("x", n) }
	f := func(body, wantErr string) {
		t.Helper()
		_, err := ParseCommand([]byte(body))
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("ParseCommand(%.80s) = %v, want %q", body, err, wantErr)
		}
	}
	f(`{"id":"1","op":"ack","alert":"r/d","by":"van-hanh-1","note":"ok"}`, "")
	f(`{"id":"2","op":"resolve","alert":"r/d","by":"u"}`, "")
	f(`{"id":"3","op":"maintenance_start","target":"district:d1","until":"2026-11-24T17:00:00+07:00","by":"u"}`, "")
	f(`{"id":"4","op":"maintenance_end","target":"device:d","by":"u"}`, "")
	f(`{"id":"5","op":"ack","by":"u"}`, "ack needs alert")
	f(`{"id":"6","op":"maintenance_end","by":"u"}`, "maintenance_end needs target")
	f(`{"id":"7","op":"silence","alert":"r/d","by":"u"}`, `op "silence"`)
	f(`{"id":"8","op":"ack","alert":"r/d"}`, "command needs by")
	f(`{"id":"9","op":"ack","alert":"r/d","by":"`+note(MaxByBytes+1)+`"}`, "command needs by")
	f(`{"id":"10","op":"ack","alert":"r/d","by":"u","extra":1}`, "documented shape")
	f(`{"id":"11","op":"ack","alert":"r/d","by":"u","note":"`+note(MaxNoteBytes)+`"}`, "")
	f(`{"id":"12","op":"ack","alert":"r/d","by":"u","note":"`+note(MaxNoteBytes+1)+`"}`, "note of 2001 bytes: at most 2000")
	f(`{"id":"13","op":"ack","alert":"r/d","by":"u","note":"`+note(MaxCommandBytes)+`"}`, "at most 8192")
	f(`not json`, "documented shape")
	f(`{"id":"14","op":"assign","alert":"r/d","assignee":"team:doi-vo-nhai","by":"u","note":"Gấp"}`, "")
	f(`{"id":"15","op":"assign","alert":"r/d","assignee":"user:ky-thuat-1","by":"u"}`, "")
	f(`{"id":"16","op":"assign","alert":"r/d","by":"u"}`, "assign needs alert and assignee")
	f(`{"id":"17","op":"assign","alert":"r/d","assignee":"ky-thuat-1","by":"u"}`, "assign needs alert and assignee")
	f(`{"id":"18","op":"assign","alert":"r/d","assignee":"team:","by":"u"}`, "assign needs alert and assignee")
	f(`{"id":"19","op":"assign","alert":"r/d","assignee":"user:`+note(MaxByBytes)+`","by":"u"}`, "assign needs alert and assignee")
	for _, op := range []string{"accept", "en_route", "on_site", "fixed"} {
		f(`{"id":"20","op":"`+op+`","alert":"r/d","by":"u","note":"Đã thay nguồn"}`, "")
		f(`{"id":"21","op":"`+op+`","by":"u"}`, op+" needs alert")
	}
}

func TestCommandResultEchoesTheCommand(t *testing.T) {
	c, err := ParseCommand([]byte(`{"id":"c-1","op":"resolve","by":"u"}`))
	if err == nil || c.ID != "c-1" || c.Op != OpResolve {
		t.Fatalf("a refused command keeps its id and op for the result: %+v, %v", c, err)
	}
	b, _ := json.Marshal(CommandResult{ID: c.ID, Op: c.Op, Error: err.Error()})
	if want := `{"id":"c-1","op":"resolve","ok":false,"error":"resolve needs alert"}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestOps(t *testing.T) {
	for _, op := range Ops() {
		if !op.Valid() {
			t.Errorf("%s is listed but not valid", op)
		}
	}
	if Op("silence").Valid() || Op("").Valid() {
		t.Error("an unknown op is valid")
	}
}
