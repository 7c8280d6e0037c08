package config

import (
	"os"

	"github.com/ioc-vn/ioc/internal/access"
	"github.com/ioc-vn/ioc/internal/auth"
)

// demoHashes are the password hashes committed in configs/ (each of
// "demo-<username>"). A device account is checked only against these, by
// string, so a site with 10,000 device accounts pays no key derivation at
// start; the few other accounts are also tried with "demo-<username>".
var demoHashes = map[string]bool{
	"$7$10000$0SzXXLnRax+2PWGU$/kSvv3TigZam1YABXgX9B4uvlVWH7NHb0fTJXGuN5HwJ2qHpTBW39ivthHWj1bMO2cUPRbylNMmuNiVDTTTMnA==": true, // vms-tn
	"$7$10000$kJQdyd6jl2vT4bPO$w/XJTUV3QgFQYB1YVhy+NLZVTYPUch1HEXxW0SXKL5DAh8Wji0Qaln4nMADUfJeK8n4+9cbsniLDSWSIRWUY6A==": true, // envsense
	"$7$10000$gIJWdiHjEac7cZyG$oO6ncBOkDzqhe/IJf3GYbTku8I0YETbbGDQYEW+Tx9LxHakJfBHONwkliByyMs7HRMRrp1z03Zhh7979XF873w==": true, // smartcity-tn
	"$7$10000$ys6Ov+6HpsFVF5tw$XByEJccbbvwm/sRyJ9sQNwd46xzHgCULoGwDTt8QPU/xf1QZGvHb3Q7wkkohSO8QOX6aZ5uJhzkggq+KX1nemw==": true, // cam-bvtw-01
	"$7$10000$NaWk0rK8xvamHJCj$iwfKSn6d68Ki3S/GKxagUTgUlzyUhd6haSn5YgwqwLpcQdoIK2sbkXKsqpzQHNq8eWnT2M5xcZReWZ+xnL/CBw==": true, // ioc-server
	"$2a$10$RCqfUyCrYHZ0rvCp3GJvIOE30KNRm9ZvcG6DCba.F/H0171GXNGKa":                                                       true, // admin
	"$2a$10$5/5tBq9tzgJ.yCS.zKcMFeA7ciaSJagK45eDvw5MQXJgQwHefuGki":                                                       true, // operator
	"$2a$10$H42x76i6roLKkTDNV8AVIeU7Kq3EdxKkLetpsvVK.jpsPkqeqs80i":                                                       true, // technician
	"$2a$10$EMpSbuK4rxj3UZCdcpKppOxqwuiMs6fDwK7EuBpoaaVwKuwzOPt1u":                                                       true, // viewer
}

// DemoSecrets names what in the ioc configuration is a shipped demo
// secret or missing: users whose password is demo-<username>, the demo
// MQTT password, an empty session secret. cmd/ioc refuses to start with
// any of them unless Demo is set.
func (c *IOC) DemoSecrets() []string {
	var out []string
	for _, u := range c.Auth.Users {
		if demoHashes[u.PasswordHash] || auth.CheckPassword(u.PasswordHash, "demo-"+u.Username) {
			out = append(out, "user "+u.Username+" (password demo-"+u.Username+")")
		}
	}
	if c.MQTT.Password != "" && c.MQTT.Password == "demo-"+c.MQTT.Username {
		out = append(out, "mqtt.password of "+c.MQTT.Username+" (demo-"+c.MQTT.Username+")")
	}
	if c.Auth.SessionSecret == "" {
		out = append(out, "auth.session_secret (empty)")
	}
	return out
}

// DemoSecrets names the accounts of the credentials file whose password
// is the shipped demo one, and an external broker password that is.
// cmd/ingest refuses to start with any of them unless Demo is set. A
// credentials file that cannot be read is left to ingest to report.
func (c *Ingest) DemoSecrets() []string {
	var out []string
	if b, err := os.ReadFile(c.Credentials); c.Credentials != "" && err == nil {
		var f access.File
		if Decode(b, &f) == nil {
			for _, a := range f.Accounts {
				if demoHashes[a.PasswordHash] || (a.Role != access.RoleDevice && access.Verify(a.PasswordHash, []byte("demo-"+a.Username))) {
					out = append(out, "account "+a.Username+" (password demo-"+a.Username+")")
				}
			}
		}
	}
	if !c.EmbeddedBroker() && c.MQTT.Password != "" && c.MQTT.Password == "demo-"+c.MQTT.Username {
		out = append(out, "mqtt.password of "+c.MQTT.Username+" (demo-"+c.MQTT.Username+")")
	}
	return out
}
