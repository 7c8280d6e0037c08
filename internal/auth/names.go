package auth

// DisplayNames returns each user's name by username ("operator" →
// "Trực ban IOC"); a user without a name is shown by username.
func (a *Auth) DisplayNames() map[string]string {
	out := make(map[string]string, len(a.users))
	for u, user := range a.users {
		if user.Name != "" {
			out[u] = user.Name
		}
	}
	return out
}
