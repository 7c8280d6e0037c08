package auth

import (
	"strings"
	"testing"
)

func TestTeams(t *testing.T) {
	h := hash(t, "pw")
	users := []User{
		{Username: "ky-thuat-1", Role: Technician, PasswordHash: h},
		{Username: "ky-thuat-2", Role: Technician, PasswordHash: h},
		{Username: "truc-ban", Role: Operator, PasswordHash: h},
		{Username: "lanh-dao", Role: Viewer, PasswordHash: h},
	}
	good := Team{ID: "doi-vo-nhai", Name: "Đội kỹ thuật Võ Nhai", Districts: []string{"vo-nhai"}, Members: []string{"ky-thuat-1", "truc-ban"}}
	for _, tc := range []struct {
		name  string
		teams []Team
		err   string
	}{
		{"good", []Team{good, {ID: "vms-tn", Name: "Bảo trì VMS", Integrators: []string{"vms-tn"}, Members: []string{"ky-thuat-2"}}}, ""},
		{"twice", []Team{good, good}, "appears twice"},
		{"bad id", []Team{{ID: "doi:1", Name: "x", Members: []string{"ky-thuat-1"}}}, "no spaces, colons or slashes"},
		{"no name", []Team{{ID: "d", Members: []string{"ky-thuat-1"}}}, "name is empty"},
		{"no members", []Team{{ID: "d", Name: "x"}}, "no members"},
		{"unknown member", []Team{{ID: "d", Name: "x", Members: []string{"ai-do"}}}, `member "ai-do" is not a user`},
		{"viewer member", []Team{{ID: "d", Name: "x", Members: []string{"lanh-dao"}}}, "need role technician"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Users: users, Teams: tc.teams}, nil)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
		})
	}
	a, err := New(Config{Users: users, Teams: []Team{good}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, assignee     string
		assigned, eligible bool
	}{
		{"ky-thuat-1", "user:ky-thuat-1", true, true},
		{"ky-thuat-2", "user:ky-thuat-1", false, true},
		{"ky-thuat-1", "team:doi-vo-nhai", true, true},
		{"truc-ban", "team:doi-vo-nhai", true, true},
		{"ky-thuat-2", "team:doi-vo-nhai", false, true},
		{"ky-thuat-1", "team:khac", false, false},
		{"lanh-dao", "user:lanh-dao", true, false}, // a viewer cannot be given work
		{"ky-thuat-1", "user:ai-do", false, false},
		{"ky-thuat-1", "ky-thuat-1", false, false},
	} {
		if got := a.Assigned(tc.user, tc.assignee); got != tc.assigned {
			t.Errorf("Assigned(%s, %s) = %v", tc.user, tc.assignee, got)
		}
		if got := a.Assignable(tc.assignee); got != tc.eligible {
			t.Errorf("Assignable(%s) = %v", tc.assignee, got)
		}
	}
	if got := strings.Join(a.TeamsOf("ky-thuat-1"), ","); got != "doi-vo-nhai" {
		t.Errorf("TeamsOf = %s", got)
	}
}

func TestCheckTeamScopes(t *testing.T) {
	known := func(ids ...string) func(string) bool {
		return func(id string) bool {
			for _, k := range ids {
				if k == id {
					return true
				}
			}
			return false
		}
	}
	teams := []Team{{ID: "a", Districts: []string{"vo-nhai"}, Integrators: []string{"vms-tn"}}, {ID: "b", Districts: []string{"vo-nhia"}}}
	err := CheckTeamScopes(teams, known("vo-nhai"), known("vms-tn"))
	if err == nil || err.Error() != `teams[1] b: district "vo-nhia" is not in the registry` {
		t.Fatalf("got %v", err)
	}
	if err := CheckTeamScopes(teams[:1], known("vo-nhai"), known("vms-tn")); err != nil {
		t.Fatal(err)
	}
	if err := CheckTeamScopes(teams[:1], known("vo-nhai"), known()); err == nil || !strings.Contains(err.Error(), `integrator "vms-tn"`) {
		t.Fatalf("got %v", err)
	}
}
