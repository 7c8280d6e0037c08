package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/contract"
)

// Dispatch: an operator assigns an alert to a technician or a team, and
// the technician reports each step. The alert service keeps the steps'
// order; this side checks who may take them (the assignee, or a member of
// the assigned team) and refuses a step out of order before sending it,
// with a code the pages name in the user's language.

type assignRequest struct {
	Assignee string `json:"assignee"`
	Note     string `json:"note"`
}

// assign gives an active alert to a user or a team (operator and up).
func (a *API) assign(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	id := r.PathValue("rule") + "/" + r.PathValue("device")
	var req assignRequest
	if !readJSON(w, r, &req) || !checkNote(w, req.Note) {
		return
	}
	if !contract.ValidAssignee(req.Assignee) || !a.d.Auth.Assignable(req.Assignee) {
		writeErrorCode(w, http.StatusBadRequest, "bad_assignee", "assignee: user:<username> of a technician, or team:<team id> of a configured team")
		return
	}
	al, ok := a.d.Picture.Alert(id)
	if !ok {
		writeErrorCode(w, http.StatusNotFound, "alert_not_active", "no active alert "+id)
		return
	}
	if al.Parent != "" {
		writeErrorCode(w, http.StatusConflict, "alert_folded", "alert "+id+" is folded under "+al.Parent+": assign that one")
		return
	}
	a.run(w, r, s, contract.Command{Op: contract.OpAssign, Alert: id, Assignee: req.Assignee, By: s.User.Username, Note: req.Note},
		AuditEntry{Action: string(contract.OpAssign), User: s.User.Username, IP: a.clientIP(r), Alert: id, Target: req.Assignee, Note: req.Note})
}

// step records a technician's step on an alert dispatched to them or to
// their team.
func (a *API) step(op contract.Op) handler {
	return func(w http.ResponseWriter, r *http.Request, s *auth.Session) {
		id := r.PathValue("rule") + "/" + r.PathValue("device")
		var req noteRequest
		if r.ContentLength != 0 && !readJSON(w, r, &req) {
			return
		}
		if !checkNote(w, req.Note) {
			return
		}
		al, ok := a.d.Picture.Alert(id)
		if !ok {
			writeErrorCode(w, http.StatusNotFound, "alert_not_active", "no active alert "+id)
			return
		}
		step, _ := alert.StepFor(op)
		if err := alert.CheckStep(al.Dispatch, step); err != nil {
			code := "bad_request"
			if errors.Is(err, alert.ErrStepOrder) {
				code = "step_out_of_order"
			}
			writeErrorCode(w, http.StatusConflict, code, err.Error())
			return
		}
		if !a.d.Auth.Assigned(s.User.Username, al.Dispatch.Assignee) {
			writeErrorCode(w, http.StatusForbidden, "not_assignee", "alert "+id+" is assigned to "+al.Dispatch.Assignee+", not to you or your team")
			return
		}
		a.run(w, r, s, contract.Command{Op: op, Alert: id, By: s.User.Username, Note: req.Note},
			AuditEntry{Action: string(op), User: s.User.Username, IP: a.clientIP(r), Alert: id, Note: req.Note})
	}
}

// TimelineEntry is one transition of an alert, from the store's history.
type TimelineEntry struct {
	At         time.Time `json:"at"`
	Transition string    `json:"transition"`
	By         string    `json:"by,omitempty"`
	Note       string    `json:"note,omitempty"`
	// Assignee is who had the alert at a dispatch step.
	Assignee string `json:"assignee,omitempty"`
	State    string `json:"state,omitempty"`
	Value    string `json:"value,omitempty"`
}

// maxTimelineEntries bounds a timeline (the latest are kept): a flapping
// alert may have thousands of transitions.
const maxTimelineEntries = 500

// timeline serves an alert's transitions, oldest first: raised,
// renotified, acknowledged, assigned and each step, targets missed,
// resolved. By default from the active alert's raise (else the last 30
// days) to now; from and to (RFC 3339) choose another range, at most 90
// days.
func (a *API) timeline(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	rule, dev := r.PathValue("rule"), r.PathValue("device")
	id := rule + "/" + dev
	if _, ok := a.Registry().Device(dev); !ok && !strings.HasPrefix(dev, "district:") {
		writeErrorCode(w, http.StatusNotFound, "device_not_found", "no device "+dev+" in the registry")
		return
	}
	q := r.URL.Query()
	if q.Get("from") == "" && q.Get("to") == "" {
		from := a.now().Add(-30 * 24 * time.Hour)
		if al, ok := a.d.Picture.Alert(id); ok {
			from = al.RaisedAt
		}
		q.Set("from", from.Add(-time.Second).UTC().Format(time.RFC3339))
		q.Set("to", a.now().Add(time.Minute).UTC().Format(time.RFC3339))
		r.URL.RawQuery = q.Encode()
	}
	from, to, ok := a.timeRange(w, r, 90*24*time.Hour)
	if !ok {
		return
	}
	hs, ok := a.readAlertHistory(w, r, dev, from, to)
	if !ok {
		return
	}
	out := []TimelineEntry{}
	for i := range hs {
		h := &hs[i]
		if h.Alert.ID != id {
			continue
		}
		out = append(out, TimelineEntry{At: h.At, Transition: h.Transition, By: h.By, Note: h.Note, Assignee: h.Alert.Assignee,
			State: h.Alert.State, Value: h.Alert.Value})
	}
	if len(out) > maxTimelineEntries {
		out = out[len(out)-maxTimelineEntries:]
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert": id, "from": from, "to": to, "entries": out})
}
