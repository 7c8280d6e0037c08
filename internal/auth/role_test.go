package auth

import (
	"strings"
	"testing"
)

// TestIntegratorRole: the integrator role stands outside the operators'
// order: it allows only what needs it, and no other role allows that.
func TestIntegratorRole(t *testing.T) {
	for _, tc := range []struct {
		have, need Role
		want       bool
	}{
		{Integrator, Integrator, true},
		{Integrator, Viewer, false},
		{Integrator, Technician, false},
		{Integrator, Operator, false},
		{Integrator, Admin, false},
		{Viewer, Integrator, false},
		{Admin, Integrator, false},
		{Admin, Viewer, true},
		{Viewer, Technician, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
}

func TestIntegratorUsersConfig(t *testing.T) {
	h := hash(t, "pw")
	for _, tc := range []struct {
		name string
		user User
		err  string // "" valid
	}{
		{"integrator with its id", User{Username: "vms", Role: Integrator, Integrator: "vms-tn", PasswordHash: h}, ""},
		{"integrator without id", User{Username: "vms", Role: Integrator, PasswordHash: h}, "role integrator needs integrator:"},
		{"operator with an integrator", User{Username: "op", Role: Operator, Integrator: "vms-tn", PasswordHash: h}, "is for role integrator only"},
		{"unknown role", User{Username: "x", Role: "guest", PasswordHash: h}, "admin or integrator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Users: []User{tc.user}}, nil)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("New: %v, want an error with %q", err, tc.err)
			}
		})
	}
}
