package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Status is the outbox as GET /-/notify shows it.
type Status struct {
	Counts        map[string]int `json:"counts"` // pending, sending, sent, failed
	OldestPending time.Time      `json:"oldest_pending,omitzero"`
	Incidents     int            `json:"open_incidents"`
	Failed        []StatusEntry  `json:"failed"`  // newest first
	Pending       []StatusEntry  `json:"pending"` // newest first
}

// StatusEntry is one message.
type StatusEntry struct {
	Key       string    `json:"key"`
	Channel   string    `json:"channel"`
	Recipient string    `json:"recipient"`
	Kind      Kind      `json:"kind"`
	Subject   string    `json:"subject"`
	Attempts  int       `json:"attempts"`
	Planned   time.Time `json:"planned"`
	NextAt    time.Time `json:"next_attempt,omitzero"`
	Error     string    `json:"error,omitempty"`
}

// status reads the outbox; list bounds the failed and pending entries.
func (s *Service) status(ctx context.Context, list int) (*Status, error) {
	counts, err := s.db.counts(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Counts: counts, Failed: []StatusEntry{}, Pending: []StatusEntry{}}
	var oldest sql.NullInt64
	if err := s.db.db.QueryRowContext(ctx, `SELECT MIN(created) FROM messages WHERE state IN ('pending', 'sending')`).Scan(&oldest); err != nil {
		return nil, err
	}
	if oldest.Valid {
		st.OldestPending = time.Unix(0, oldest.Int64)
	}
	if err := s.db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents`).Scan(&st.Incidents); err != nil {
		return nil, err
	}
	if list == 0 {
		return st, nil
	}
	for _, state := range []string{"failed", "pending"} {
		rows, err := s.db.list(ctx, state, list)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			e := StatusEntry{Key: r.Key, Channel: r.Channel, Recipient: r.Recipient, Kind: r.Msg.Kind, Subject: r.Msg.Subject,
				Attempts: r.Attempts, Planned: r.Created, Error: r.Error}
			if state == "pending" {
				e.NextAt = r.NextAt
				st.Pending = append(st.Pending, e)
			} else {
				st.Failed = append(st.Failed, e)
			}
		}
	}
	return st, nil
}

// Mount serves, besides next:
//
//	GET  /-/notify        the outbox: counts, the last 100 failed and pending messages
//	POST /-/notify/retry  send failed messages again (?key=<key>: only that one)
//
// from loopback peers only: the listener may be opened to a scraper, and
// the outbox names recipients. A nil Service mounts nothing.
func (s *Service) Mount(next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	mux := http.NewServeMux()
	mux.Handle("/", next)
	mux.HandleFunc("GET /-/notify", s.loopback(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.status(r.Context(), 100)
		if err != nil {
			http.Error(w, "notify outbox: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	}))
	mux.HandleFunc("POST /-/notify/retry", s.loopback(func(w http.ResponseWriter, r *http.Request) {
		n, err := s.db.requeue(r.Context(), strings.TrimSpace(r.URL.Query().Get("key")), s.now())
		if err != nil {
			http.Error(w, "notify outbox: "+err.Error(), http.StatusInternalServerError)
			return
		}
		for _, c := range s.senders {
			poke(c)
		}
		s.log.Info("notify: failed messages queued again", "messages", n)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"requeued": n})
	}))
	return mux
}

func (s *Service) loopback(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
			http.Error(w, "the notification outbox is served to this host only (loopback)", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}
