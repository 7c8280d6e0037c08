package config

// demoHashes are the password hashes committed in configs/ (each of
// "demo-<username>").
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
	"$2a$10$G2YGKNNzfiglJty3CpVZF.Nu2zEyz/ni61NSYw200MskBQMFjpMCi":                                                       true, // technician-2
}

// ShippedDemoHash reports whether h is one of the password hashes
// committed in configs/, whose password is demo-<username>. The processes'
// refusal of demo secrets checks hashes against it by string first, so a
// site with 10,000 device accounts pays no key derivation at start.
func ShippedDemoHash(h string) bool { return demoHashes[h] }
