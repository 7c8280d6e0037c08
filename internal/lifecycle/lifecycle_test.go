package lifecycle

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// journal records what the parts do, in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

// serving is a part that runs until its context ends.
func serving(j *journal, name string) (start, run func(context.Context) error) {
	return func(context.Context) error { j.add("start " + name); return nil },
		func(ctx context.Context) error { <-ctx.Done(); j.add("stop " + name); return nil }
}

func TestGroup(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		// build adds the parts; quit, if set, is closed to make part b
		// stop by itself.
		build    func(g *Group, j *journal, quit chan struct{})
		cancel   bool // end the context once started
		startErr string
		waitErr  string
		want     []string
	}{
		{
			name: "started in order, stopped in reverse when the context ends",
			build: func(g *Group, j *journal, _ chan struct{}) {
				for _, n := range []string{"a", "b", "c"} {
					s, r := serving(j, n)
					g.Add(n, s, r)
				}
			},
			cancel: true,
			want:   []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"},
		},
		{
			name: "a failed start stops the parts already running, in reverse",
			build: func(g *Group, j *journal, _ chan struct{}) {
				s, r := serving(j, "a")
				g.Add("a", s, r)
				s, r = serving(j, "b")
				g.Add("b", s, r)
				g.Add("c", func(context.Context) error { return boom }, func(ctx context.Context) error { t.Error("c ran"); return nil })
				s, r = serving(j, "d")
				g.Add("d", s, r)
			},
			startErr: "c: boom",
			want:     []string{"start a", "start b", "stop b", "stop a"},
		},
		{
			name: "a part that stops by itself stops the group",
			build: func(g *Group, j *journal, quit chan struct{}) {
				s, r := serving(j, "a")
				g.Add("a", s, r)
				g.Add("b", nil, func(ctx context.Context) error { <-quit; j.add("b quit"); return nil })
				s, r = serving(j, "c")
				g.Add("c", s, r)
			},
			waitErr: "b stopped by itself: returned without an error",
			want:    []string{"start a", "start c", "b quit", "stop c", "stop a"},
		},
		{
			name: "a part's error on the way out is returned",
			build: func(g *Group, j *journal, _ chan struct{}) {
				g.Add("a", nil, func(ctx context.Context) error { <-ctx.Done(); return boom })
				s, r := serving(j, "b")
				g.Add("b", s, r)
			},
			cancel:  true,
			waitErr: "a: boom",
			want:    []string{"start b", "stop b"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Group
			j := &journal{}
			quit := make(chan struct{})
			tc.build(&g, j, quit)
			err := g.Start(context.Background())
			if tc.startErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.startErr) {
					t.Fatalf("Start: %v, want %q", err, tc.startErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				if tc.cancel {
					cancel()
				} else {
					defer cancel()
					close(quit)
				}
				done := make(chan error, 1)
				go func() { done <- g.Wait(ctx) }()
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("Wait did not return")
				}
				if (tc.waitErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.waitErr)) {
					t.Fatalf("Wait: %v, want %q", err, tc.waitErr)
				}
			}
			if got := j.list(); !slices.Equal(got, tc.want) {
				t.Errorf("events %q\nwant   %q", got, tc.want)
			}
		})
	}
}

// TestStartNoticesAnEarlyExit: a part that stops by itself while later
// parts start fails Start, which stops the others.
func TestStartNoticesAnEarlyExit(t *testing.T) {
	var g Group
	j := &journal{}
	g.Add("a", nil, func(ctx context.Context) error { return errors.New("port taken") })
	g.Add("b", func(context.Context) error {
		for len(g.failed) == 0 { // until a's exit is reported
			runtime.Gosched()
		}
		return nil
	}, func(ctx context.Context) error { <-ctx.Done(); j.add("stop b"); return nil })
	s, r := serving(j, "c")
	g.Add("c", s, r)
	err := g.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "a stopped by itself: port taken") {
		t.Fatalf("Start: %v", err)
	}
	if got := j.list(); !slices.Equal(got, []string{"stop b"}) {
		t.Errorf("events %q: want b stopped, c never started", got)
	}
}
