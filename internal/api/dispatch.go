package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ioc-vn/ioc/internal/alert"
	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/contract"
	"github.com/ioc-vn/ioc/internal/photo"
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
// their team. The fixed step may come as multipart/form-data instead of
// JSON: a field note and a file photo (readFixed).
func (a *API) step(op contract.Op) handler {
	return func(w http.ResponseWriter, r *http.Request, s *auth.Session) {
		id := r.PathValue("rule") + "/" + r.PathValue("device")
		var req noteRequest
		form := op == contract.OpFixed && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
		if !form && r.ContentLength != 0 && !readJSON(w, r, &req) {
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
		var ph string
		if form {
			var ok bool
			if req.Note, ph, ok = a.readFixed(w, r, id, s.User.Username); !ok {
				return
			}
		}
		e := AuditEntry{Action: string(op), User: s.User.Username, IP: a.clientIP(r), Alert: id, Note: req.Note}
		if ph != "" {
			e.Target = "photo:" + ph
		}
		if a.run(w, r, s, contract.Command{Op: op, Alert: id, By: s.User.Username, Note: req.Note, Photo: ph}, e) && ph != "" {
			a.d.Photos.Remove(ph) // the step was refused: the photo belongs to nothing
		}
	}
}

// readFixed reads the fixed step's form: the note (field note) and an
// optional photo (file photo), kept in the photo store for the alert id.
// It answers the refusals itself: a photo that is not a JPEG, PNG or WebP
// image by its bytes (photo_type, 415), one over photo.MaxBytes
// (photo_too_large, 413), a note too long.
func (a *API) readFixed(w http.ResponseWriter, r *http.Request, id, by string) (note, ph string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, photo.MaxBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad form: "+err.Error())
		return "", "", false
	}
	fail := func(status int, code, msg string) (string, string, bool) {
		if ph != "" {
			a.d.Photos.Remove(ph)
		}
		writeErrorCode(w, status, code, msg)
		return "", "", false
	}
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return fail(http.StatusRequestEntityTooLarge, "photo_too_large", fmt.Sprintf("photo: at most %d MiB", photo.MaxBytes>>20))
		case err != nil:
			return fail(http.StatusBadRequest, "bad_request", "bad form: "+err.Error())
		case parts >= 2:
			return fail(http.StatusBadRequest, "bad_request", "the form has a note and a photo, nothing else")
		}
		switch p.FormName() {
		case "note":
			b, err := io.ReadAll(io.LimitReader(p, contract.MaxNoteBytes+1))
			if err != nil || len(b) > contract.MaxNoteBytes {
				return fail(http.StatusBadRequest, "note_too_long", fmt.Sprintf("note: at most %d bytes", contract.MaxNoteBytes))
			}
			note = string(b)
		case "photo":
			if ph != "" {
				return fail(http.StatusBadRequest, "bad_request", "one photo at most")
			}
			if p.FileName() == "" { // an empty file input
				continue
			}
			if a.d.Photos == nil {
				return fail(http.StatusServiceUnavailable, "photos_off", "this server keeps no photos")
			}
			m, err := a.d.Photos.Save(p, id, by, a.now())
			switch {
			case errors.Is(err, photo.ErrNotImage):
				return fail(http.StatusUnsupportedMediaType, "photo_type", "photo: a JPEG, PNG or WebP image")
			case errors.Is(err, photo.ErrTooLarge):
				return fail(http.StatusRequestEntityTooLarge, "photo_too_large", fmt.Sprintf("photo: at most %d MiB", photo.MaxBytes>>20))
			case err != nil:
				a.d.Log.Error("api: keeping a photo failed", "alert", id, "err", err)
				return fail(http.StatusInternalServerError, "photo_not_kept", "the photo could not be kept")
			}
			ph = m.ID
		default:
			return fail(http.StatusBadRequest, "bad_request", "form field "+p.FormName()+": use note and photo")
		}
	}
	return note, ph, true
}

// photo serves a photo of an alert's fix with the type its bytes showed
// when it was kept, to those who may see the alert.
func (a *API) photo(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	id := r.PathValue("rule") + "/" + r.PathValue("device")
	if a.d.Photos == nil {
		writeErrorCode(w, http.StatusNotFound, "photo_not_found", "no such photo")
		return
	}
	f, m, err := a.d.Photos.Get(r.PathValue("photo"))
	if err != nil || m.Alert != id {
		if f != nil {
			f.Close()
		}
		writeErrorCode(w, http.StatusNotFound, "photo_not_found", "no such photo of alert "+id)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", m.Type)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	h.Set("Content-Disposition", `inline; filename="`+m.ID+map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}[m.Type]+`"`)
	http.ServeContent(w, r, "", m.At, f)
}

// TimelineEntry is one transition of an alert, from the store's history.
type TimelineEntry struct {
	At         time.Time `json:"at"`
	Transition string    `json:"transition"`
	By         string    `json:"by,omitempty"`
	Note       string    `json:"note,omitempty"`
	// Assignee is who had the alert at a dispatch step.
	Assignee string `json:"assignee,omitempty"`
	// Photo is the address of the photo of the fix, on a fixed step that
	// has one (GET, the same session).
	Photo string `json:"photo,omitempty"`
	State string `json:"state,omitempty"`
	Value string `json:"value,omitempty"`
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
		e := TimelineEntry{At: h.At, Transition: h.Transition, By: h.By, Note: h.Note, Assignee: h.Alert.Assignee,
			State: h.Alert.State, Value: h.Alert.Value}
		if contract.ValidPhotoID(h.Alert.Photo) {
			e.Photo = "/api/v1/alerts/" + url.PathEscape(rule) + "/" + url.PathEscape(dev) + "/photos/" + h.Alert.Photo
		}
		out = append(out, e)
	}
	if len(out) > maxTimelineEntries {
		out = out[len(out)-maxTimelineEntries:]
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert": id, "from": from, "to": to, "entries": out})
}
