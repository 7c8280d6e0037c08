package availability

import (
	"slices"
	"time"
)

// span is the half-open interval [a, b).
type span struct{ a, b time.Time }

// spans is a set of disjoint spans in time order (after norm).
type spans []span

// norm sorts s and merges overlapping or touching spans; empty ones go.
func norm(s spans) spans {
	slices.SortFunc(s, func(x, y span) int { return x.a.Compare(y.a) })
	var out spans
	for _, x := range s {
		if !x.a.Before(x.b) {
			continue
		}
		if n := len(out); n > 0 && !x.a.After(out[n-1].b) {
			if x.b.After(out[n-1].b) {
				out[n-1].b = x.b
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// clip is s within [a, b).
func (s spans) clip(a, b time.Time) spans {
	var out spans
	for _, x := range s {
		if x.a.Before(a) {
			x.a = a
		}
		if x.b.After(b) {
			x.b = b
		}
		if x.a.Before(x.b) {
			out = append(out, x)
		}
	}
	return out
}

// minus is s without any time in t (both normalised).
func (s spans) minus(t spans) spans {
	var out spans
	for _, x := range s {
		cur := x
		for _, y := range t {
			if !y.b.After(cur.a) || !y.a.Before(cur.b) {
				continue // no overlap
			}
			if y.a.After(cur.a) {
				out = append(out, span{cur.a, y.a})
			}
			cur.a = y.b
			if !cur.a.Before(cur.b) {
				break
			}
		}
		if cur.a.Before(cur.b) {
			out = append(out, cur)
		}
	}
	return out
}

// total is the time s covers.
func (s spans) total() time.Duration {
	var d time.Duration
	for _, x := range s {
		d += x.b.Sub(x.a)
	}
	return d
}
