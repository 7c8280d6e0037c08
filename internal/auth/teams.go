package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Team is a group of users an alert can be dispatched to: the technicians
// of a district, or an integrator's maintenance crew. Districts and
// Integrators say which alerts it usually takes (the wall offers it first
// for those); they limit nothing.
type Team struct {
	ID          string   `yaml:"id" json:"id"`
	Name        string   `yaml:"name" json:"name"`
	Districts   []string `yaml:"districts" json:"districts"`
	Integrators []string `yaml:"integrators" json:"integrators"`
	Members     []string `yaml:"members" json:"members"`
}

// checkTeams validates teams against the users.
func checkTeams(teams []Team, users map[string]User) []error {
	var errs []error
	seen := map[string]bool{}
	for i, t := range teams {
		if t.ID == "" || len(t.ID) > 64 || strings.ContainsAny(t.ID, " \t\r\n:/") {
			errs = append(errs, fmt.Errorf("teams[%d]: id %q: 1-64 characters, no spaces, colons or slashes", i, t.ID))
		}
		if seen[t.ID] {
			errs = append(errs, fmt.Errorf("teams[%d]: %s appears twice", i, t.ID))
		}
		seen[t.ID] = true
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("teams[%d] %s: name is empty (the wall shows it)", i, t.ID))
		}
		if len(t.Members) == 0 {
			errs = append(errs, fmt.Errorf("teams[%d] %s: no members", i, t.ID))
		}
		for _, m := range t.Members {
			u, ok := users[m]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("teams[%d] %s: member %q is not a user", i, t.ID, m))
			case !u.Role.Allows(Technician):
				errs = append(errs, fmt.Errorf("teams[%d] %s: member %s is a %s; a team's members need role technician or above", i, t.ID, m, u.Role))
			}
		}
	}
	return errs
}

// Teams returns the configured teams.
func (a *Auth) Teams() []Team { return a.cfg.Teams }

// TeamsOf returns the ids of the teams username is a member of.
func (a *Auth) TeamsOf(username string) []string {
	out := []string{}
	for _, t := range a.cfg.Teams {
		if slices.Contains(t.Members, username) {
			out = append(out, t.ID)
		}
	}
	return out
}

// Assignable reports whether an alert may be dispatched to assignee: a
// user with role technician or above (user:<username>), or a team
// (team:<id>).
func (a *Auth) Assignable(assignee string) bool {
	if name, ok := strings.CutPrefix(assignee, "user:"); ok {
		u, ok := a.users[name]
		return ok && u.Role.Allows(Technician)
	}
	if id, ok := strings.CutPrefix(assignee, "team:"); ok {
		return slices.ContainsFunc(a.cfg.Teams, func(t Team) bool { return t.ID == id })
	}
	return false
}

// Assigned reports whether username has the work of an alert dispatched
// to assignee: it is theirs, or their team's.
func (a *Auth) Assigned(username, assignee string) bool {
	if name, ok := strings.CutPrefix(assignee, "user:"); ok {
		return name == username
	}
	if id, ok := strings.CutPrefix(assignee, "team:"); ok {
		return slices.Contains(a.TeamsOf(username), id)
	}
	return false
}

// CheckTeamScopes reports the teams' districts and integrators that the
// registry does not know (district and integrator say whether it does): a
// misspelt id would silently stop the wall from offering the team first.
func CheckTeamScopes(teams []Team, district, integrator func(string) bool) error {
	var errs []error
	for i, t := range teams {
		for _, d := range t.Districts {
			if !district(d) {
				errs = append(errs, fmt.Errorf("teams[%d] %s: district %q is not in the registry", i, t.ID, d))
			}
		}
		for _, in := range t.Integrators {
			if !integrator(in) {
				errs = append(errs, fmt.Errorf("teams[%d] %s: integrator %q is not in the registry", i, t.ID, in))
			}
		}
	}
	return errors.Join(errs...)
}
