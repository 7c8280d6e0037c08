package access

import "slices"

// Changes lists the accounts a reload adds, removes and changes (a new
// secret, role, integrator, device, subscriptions or disabled).
type Changes struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// Diff compares old (nil: no accounts) with p, in file order.
func (p *Policy) Diff(old *Policy) Changes {
	var c Changes
	var before map[string]*Account
	if old != nil {
		before = old.accounts
		for _, n := range old.order {
			if _, ok := p.accounts[n]; !ok {
				c.Removed = append(c.Removed, n)
			}
		}
	}
	for _, n := range p.order {
		b, ok := before[n]
		switch a := p.accounts[n]; {
		case !ok:
			c.Added = append(c.Added, n)
		case !a.same(b):
			c.Changed = append(c.Changed, n)
		}
	}
	return c
}

func (a *Account) same(b *Account) bool {
	return a.Username == b.Username && a.PasswordHash == b.PasswordHash && a.Role == b.Role &&
		a.Integrator == b.Integrator && a.Device == b.Device && slices.Equal(a.Subscribe, b.Subscribe) && a.Disabled == b.Disabled
}
