package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/kiosk"
)

// kioskCookieAge is how long a wall's kiosk cookie lives in its browser
// (Chromium keeps a cookie at most 400 days); every GET /api/v1/session
// sets it again, so a wall that is on never reaches it.
const kioskCookieAge = 400 * 24 * time.Hour

// kioskSession is the request's enrolled wall, from its kiosk cookie, as a
// session that only views; nil without a valid one.
func (a *API) kioskSession(r *http.Request) *auth.Session {
	if a.d.Kiosks == nil {
		return nil
	}
	c, err := r.Cookie(auth.KioskCookieName)
	if err != nil {
		return nil
	}
	k, ok := a.d.Kiosks.Check(c.Value)
	if !ok {
		return nil
	}
	return a.kioskSessionOf(k)
}

// sessionOf is the request's session: a person's login, or else an
// enrolled wall's kiosk session.
func (a *API) sessionOf(r *http.Request) *auth.Session {
	if s := a.d.Auth.Session(r); s != nil {
		return s
	}
	return a.kioskSession(r)
}

type kioskLoginRequest struct {
	Credential string `json:"credential"`
}

// kioskLogin turns an enrolled wall's credential (the kiosk link's
// #kiosk=…) into its kiosk cookie. Wrong credentials count against the
// login limits of ("kiosk", client address).
func (a *API) kioskLogin(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	var req kioskLoginRequest
	if !readJSON(w, r, &req) {
		return
	}
	if a.d.Kiosks == nil {
		writeErrorCode(w, http.StatusUnauthorized, "kiosk_refused", "this server has no enrolled walls")
		return
	}
	ip := a.clientIP(r)
	var k kiosk.Kiosk
	err := a.d.Auth.Try(ip, "kiosk", func() bool {
		var ok bool
		k, ok = a.d.Kiosks.Check(req.Credential)
		return ok
	})
	switch {
	case errors.Is(err, auth.ErrRateLimited):
		a.d.Audit.Record(AuditEntry{Action: "kiosk_login_limited", IP: ip})
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too many attempts; wait a minute")
		return
	case err != nil:
		a.d.Audit.Record(AuditEntry{Action: "kiosk_login_failed", IP: ip})
		writeErrorCode(w, http.StatusUnauthorized, "kiosk_refused", "this wall's credential is not enrolled or was revoked")
		return
	}
	a.d.Audit.Record(AuditEntry{Action: "kiosk_login", User: "kiosk:" + k.ID, IP: ip, Target: "kiosk:" + k.ID})
	http.SetCookie(w, a.d.Auth.KioskCookie(req.Credential, a.now().Add(kioskCookieAge)))
	s := a.kioskSessionOf(k)
	writeJSON(w, http.StatusOK, a.info(s))
}

func (a *API) kioskSessionOf(k kiosk.Kiosk) *auth.Session {
	id := "kiosk:" + k.ID
	return &auth.Session{User: auth.User{Username: id, Name: k.Name, Role: auth.Kiosk}, Issued: k.CreatedAt,
		Expires: a.now().Add(kioskCookieAge), ID: id, Kiosk: k.ID}
}

// renewKiosk sets a wall's kiosk cookie again with a fresh expiry.
func (a *API) renewKiosk(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(auth.KioskCookieName); err == nil {
		http.SetCookie(w, a.d.Auth.KioskCookie(c.Value, a.now().Add(kioskCookieAge)))
	}
}

type kioskRequest struct {
	Name string `json:"name"`
}

// Enrolled is an enrolment's answer: the credential is shown this once.
type Enrolled struct {
	Kiosk      kiosk.Kiosk `json:"kiosk"`
	Credential string      `json:"credential"`
	// Link is the wall's start page with the credential in its fragment
	// (never sent to a server or written to a log).
	Link string `json:"link"`
}

func (a *API) kiosksOff(w http.ResponseWriter) bool {
	if a.d.Kiosks == nil {
		writeError(w, http.StatusNotImplemented, "this server has no kiosk store")
		return true
	}
	return false
}

func (a *API) kioskList(w http.ResponseWriter, _ *http.Request, _ *auth.Session) {
	if a.kiosksOff(w) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kiosks": a.d.Kiosks.List()})
}

func (a *API) kioskEnrol(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	if a.kiosksOff(w) {
		return
	}
	var req kioskRequest
	if !readJSON(w, r, &req) {
		return
	}
	rec, cred, err := a.d.Kiosks.Enrol(req.Name, s.User.Username)
	switch {
	case errors.Is(err, kiosk.ErrName):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, kiosk.ErrFull):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		a.d.Log.Error("api: kiosk enrolment not saved", "err", err)
		writeError(w, http.StatusInternalServerError, "the enrolment could not be saved")
		return
	}
	a.d.Audit.Record(AuditEntry{Action: "kiosk_enrol", User: s.User.Username, IP: a.clientIP(r), Target: "kiosk:" + rec.ID, Note: rec.Name, Result: "ok"})
	if a.d.ShareKiosk != nil {
		a.d.ShareKiosk(rec)
	}
	writeJSON(w, http.StatusCreated, Enrolled{Kiosk: rec.Kiosk, Credential: cred, Link: "/wall/#kiosk=" + cred})
}

func (a *API) kioskRevoke(w http.ResponseWriter, r *http.Request, s *auth.Session) {
	if a.kiosksOff(w) {
		return
	}
	id := r.PathValue("id")
	rec, err := a.d.Kiosks.Revoke(id, s.User.Username)
	switch {
	case errors.Is(err, kiosk.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		a.d.Log.Error("api: kiosk revocation not saved", "kiosk", id, "err", err)
		writeError(w, http.StatusInternalServerError, "the revocation could not be saved")
		return
	}
	n := a.d.Stream.CloseSession("kiosk:" + id)
	a.d.Audit.Record(AuditEntry{Action: "kiosk_revoke", User: s.User.Username, IP: a.clientIP(r), Target: "kiosk:" + id, Note: rec.Name,
		Result: fmt.Sprintf("ok; %d live connections closed here", n)})
	if a.d.ShareKiosk != nil {
		a.d.ShareKiosk(rec)
	}
	writeJSON(w, http.StatusOK, rec.Kiosk)
}
